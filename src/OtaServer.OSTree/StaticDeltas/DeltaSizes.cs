namespace OtaServer.OSTree.StaticDeltas;

/// <summary>
/// The sizes a delta superblock declares, summed the way <c>ostree static-delta show</c> sums them:
/// "Total Size" = parts + fallbacks (compressed), "Total Uncompressed Size" = parts' usize + fallbacks' usize.
/// </summary>
public sealed record DeltaSizes(int Parts, long PartBytes, long PartUncompressedBytes, int Fallbacks, long FallbackBytes, long FallbackUncompressedBytes)
{
    public const string SuperblockType = "(a{sv}tayay(a{sv}aya(say)sstayay)aya(uayttay)a(yaytt))";

    /// <summary>What a device downloads besides the superblock ("Total Size").</summary>
    public long TotalSize => PartBytes + FallbackBytes;

    /// <summary>What a device writes ("Total Uncompressed Size").</summary>
    public long TotalUncompressedSize => PartUncompressedBytes + FallbackUncompressedBytes;

    /// <summary>Reads a superblock; big-endian ones (metadata <c>ostree.endianness</c> = 'B') are swapped as ostree does.</summary>
    public static DeltaSizes FromSuperblock(ReadOnlyMemory<byte> superblock)
    {
        var sb = GVariant.Parse(SuperblockType, superblock);
        var big = sb[0].Items.Any(e => e[0].GetString() == "ostree.endianness" && e[1].GetVariant() is { } v && v.Type == GVariantType.Byte && v.GetByte() == (byte)'B');
        ulong U(GVariant t) => big ? t.GetUInt64BigEndian() : t.GetUInt64();
        long partBytes = 0, partUsize = 0, fallbackBytes = 0, fallbackUsize = 0;
        foreach (var h in sb[6].Items)
        {
            partBytes += (long)U(h[2]);
            partUsize += (long)U(h[3]);
        }
        foreach (var f in sb[7].Items)
        {
            fallbackBytes += (long)U(f[2]);
            fallbackUsize += (long)U(f[3]);
        }
        return new DeltaSizes(sb[6].Count, partBytes, partUsize, sb[7].Count, fallbackBytes, fallbackUsize);
    }
}
