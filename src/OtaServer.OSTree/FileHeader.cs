using System.Buffers.Binary;

namespace OtaServer.OSTree;

/// <summary>
/// Metadata of a content (file) object (§4.4): uid, gid, mode, rdev, symlink target and xattrs (order kept).
/// uid/gid/mode/rdev are big-endian on the wire; properties hold the decoded values.
/// </summary>
public sealed record FileHeader
{
    /// <summary>Type of the canonical header H used in the content checksum.</summary>
    public const string ContentHeaderTypeString = "(uuuusa(ayay))";

    /// <summary>Type of the header inside a .filez file (H with the size prepended).</summary>
    public const string ArchiveHeaderTypeString = "(tuuuusa(ayay))";

    public static readonly GVariantType ContentHeaderType = GVariantType.Parse(ContentHeaderTypeString);

    public static readonly GVariantType ArchiveHeaderType = GVariantType.Parse(ArchiveHeaderTypeString);

    public uint Uid { get; init; }

    public uint Gid { get; init; }

    /// <summary>Full st_mode including the file type bits (S_IFREG or S_IFLNK).</summary>
    public uint Mode { get; init; }

    public uint Rdev { get; init; }

    /// <summary>Symlink target; "" for regular files.</summary>
    public string SymlinkTarget { get; init; } = "";

    public IReadOnlyList<Xattr> Xattrs { get; init; } = [];

    public bool IsRegularFile => PosixMode.IsRegularFile(Mode);

    public bool IsSymlink => PosixMode.IsSymlink(Mode);

    /// <summary>A regular file; <paramref name="permissions"/> are the low 12 bits (e.g. 0x1A4 = 0o644).</summary>
    public static FileHeader RegularFile(uint uid, uint gid, uint permissions, IReadOnlyList<Xattr>? xattrs = null) => new()
    {
        Uid = uid,
        Gid = gid,
        Mode = PosixMode.RegularFile | (permissions & PosixMode.PermissionMask),
        Xattrs = xattrs ?? [],
    };

    /// <summary>A symlink (mode 0o120777 unless given).</summary>
    public static FileHeader Symlink(uint uid, uint gid, string target, uint permissions = 0x1FF, IReadOnlyList<Xattr>? xattrs = null) => new()
    {
        Uid = uid,
        Gid = gid,
        Mode = PosixMode.Symlink | (permissions & PosixMode.PermissionMask),
        SymlinkTarget = target,
        Xattrs = xattrs ?? [],
    };

    /// <summary>H = <c>(uuuusa(ayay))</c> in normal form.</summary>
    public GVariant ToContentHeaderGVariant() => GVariant.Tuple(
        GVariant.UInt32BigEndian(Uid), GVariant.UInt32BigEndian(Gid), GVariant.UInt32BigEndian(Mode), GVariant.UInt32BigEndian(Rdev),
        GVariant.String(SymlinkTarget), Xattr.ToGVariant(Xattrs));

    /// <summary>Z = <c>(tuuuusa(ayay))</c> with the (big-endian) content size.</summary>
    public GVariant ToArchiveHeaderGVariant(ulong size) => GVariant.Tuple(
        GVariant.UInt64BigEndian(size),
        GVariant.UInt32BigEndian(Uid), GVariant.UInt32BigEndian(Gid), GVariant.UInt32BigEndian(Mode), GVariant.UInt32BigEndian(Rdev),
        GVariant.String(SymlinkTarget), Xattr.ToGVariant(Xattrs));

    /// <summary>Serialized H.</summary>
    public byte[] SerializeContentHeader() => ToContentHeaderGVariant().Serialize();

    /// <summary>Serialized Z (without the length prefix).</summary>
    public byte[] SerializeArchiveHeader(ulong size) => ToArchiveHeaderGVariant(size).Serialize();

    /// <summary>BE32(len) ‖ 00000000 ‖ <paramref name="header"/>: the length-prefixed form used in .filez and the checksum.</summary>
    public static byte[] LengthPrefixed(ReadOnlySpan<byte> header)
    {
        var buf = new byte[8 + header.Length];
        BinaryPrimitives.WriteUInt32BigEndian(buf, (uint)header.Length);
        header.CopyTo(buf.AsSpan(8));
        return buf;
    }

    /// <summary>Parses H (normal form required).</summary>
    public static FileHeader ParseContentHeader(ReadOnlySpan<byte> data)
    {
        var v = GVariant.ParseNormalForm(ContentHeaderType, data.ToArray());
        return FromMembers(v, 0);
    }

    /// <summary>Parses Z (normal form required) into the header and the declared content size.</summary>
    public static (FileHeader Header, ulong Size) ParseArchiveHeader(ReadOnlySpan<byte> data)
    {
        var v = GVariant.ParseNormalForm(ArchiveHeaderType, data.ToArray());
        return (FromMembers(v, 1), v[0].GetUInt64BigEndian());
    }

    private static FileHeader FromMembers(GVariant v, int first) => new()
    {
        Uid = v[first].GetUInt32BigEndian(),
        Gid = v[first + 1].GetUInt32BigEndian(),
        Mode = v[first + 2].GetUInt32BigEndian(),
        Rdev = v[first + 3].GetUInt32BigEndian(),
        SymlinkTarget = v[first + 4].GetString(),
        Xattrs = Xattr.FromGVariant(v[first + 5]),
    };

    public bool Equals(FileHeader? other) =>
        other is not null && Uid == other.Uid && Gid == other.Gid && Mode == other.Mode && Rdev == other.Rdev &&
        SymlinkTarget == other.SymlinkTarget && Xattr.ListEquals(Xattrs, other.Xattrs);

    public override int GetHashCode() => HashCode.Combine(Uid, Gid, Mode, Rdev, SymlinkTarget, Xattrs.Count);
}
