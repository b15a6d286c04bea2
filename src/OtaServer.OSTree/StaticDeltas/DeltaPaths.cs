namespace OtaServer.OSTree.StaticDeltas;

/// <summary>Static-delta paths inside a repository (ostree-format.md §6.1).</summary>
public static class DeltaPaths
{
    /// <summary>
    /// <c>deltas/&lt;F[0:2]&gt;/&lt;F[2:]&gt;-&lt;T&gt;</c> for a from→to delta, <c>deltas/&lt;T[0:2]&gt;/&lt;T[2:]&gt;</c>
    /// from scratch, where F and T are the modified-base64 checksums. Always '/'-separated.
    /// </summary>
    public static string RelativeDirectory(Checksum? from, Checksum to)
    {
        var t = to.ToMb64();
        if (from is { } f)
        {
            var fm = f.ToMb64();
            return $"deltas/{fm[..2]}/{fm[2..]}-{t}";
        }

        return $"deltas/{t[..2]}/{t[2..]}";
    }

    /// <summary>The delta's name as the summary's <c>ostree.static-deltas</c> keys spell it: <c>FROMHEX-TOHEX</c> or <c>TOHEX</c>.</summary>
    public static string DeltaName(Checksum? from, Checksum to) => from is { } f ? $"{f}-{to}" : to.ToString();

    /// <summary>The superblock metadata key of inline part <paramref name="index"/> or of the target's <c>commitmeta</c>.</summary>
    internal static string MetadataKey(Checksum? from, Checksum to, string leaf) => $"{RelativeDirectory(from, to)}/{leaf}";
}
