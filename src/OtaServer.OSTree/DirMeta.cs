namespace OtaServer.OSTree;

/// <summary>A dirmeta object <c>(uuua(ayay))</c> (§4.3); uid/gid/mode are big-endian on the wire.</summary>
public sealed class DirMeta
{
    public const string TypeString = "(uuua(ayay))";

    public static readonly GVariantType VariantType = GVariantType.Parse(TypeString);

    public uint Uid { get; init; }

    public uint Gid { get; init; }

    /// <summary>Full st_mode including S_IFDIR (0o040000).</summary>
    public uint Mode { get; init; } = PosixMode.Directory | 0x1ED; // 0o40755

    public IReadOnlyList<Xattr> Xattrs { get; init; } = [];

    /// <exception cref="FormatException">Not a valid dirmeta.</exception>
    public static DirMeta Parse(ReadOnlySpan<byte> data)
    {
        var v = GVariant.ParseNormalForm(VariantType, data.ToArray());
        var meta = new DirMeta
        {
            Uid = v[0].GetUInt32BigEndian(),
            Gid = v[1].GetUInt32BigEndian(),
            Mode = v[2].GetUInt32BigEndian(),
            Xattrs = Xattr.FromGVariant(v[3]),
        };
        if (!PosixMode.IsDirectory(meta.Mode) || (meta.Mode & ~(PosixMode.TypeMask | PosixMode.PermissionMask)) != 0)
            throw new FormatException($"Dirmeta mode 0{Convert.ToString(meta.Mode, 8)} is not a directory mode.");
        return meta;
    }

    public GVariant ToGVariant() => GVariant.Tuple(
        GVariant.UInt32BigEndian(Uid), GVariant.UInt32BigEndian(Gid), GVariant.UInt32BigEndian(Mode), Xattr.ToGVariant(Xattrs));

    public byte[] Serialize() => ToGVariant().Serialize();

    public Checksum ComputeChecksum() => Checksum.Compute(Serialize());
}
