using System.Diagnostics.CodeAnalysis;

namespace OtaServer.OSTree;

/// <summary>OSTree object types; the numeric values are those used on the wire (delta parts).</summary>
public enum ObjectType : byte
{
    File = 1,
    DirTree = 2,
    DirMeta = 3,
    Commit = 4,
    TombstoneCommit = 5,
    CommitMeta = 6,
}

public static class ObjectTypeExtensions
{
    /// <summary>The file extension (without dot) of this object type in an archive repository.</summary>
    public static string ToArchiveExtension(this ObjectType type) => type switch
    {
        ObjectType.File => "filez",
        ObjectType.DirTree => "dirtree",
        ObjectType.DirMeta => "dirmeta",
        ObjectType.Commit => "commit",
        ObjectType.TombstoneCommit => "commit-tombstone",
        ObjectType.CommitMeta => "commitmeta",
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "Unknown object type."),
    };

    /// <summary>True for everything except content (file) objects.</summary>
    public static bool IsMetadata(this ObjectType type) => type != ObjectType.File;

    /// <summary>True for the values 1–6.</summary>
    public static bool IsDefined(this ObjectType type) => type is >= ObjectType.File and <= ObjectType.CommitMeta;

    /// <summary>The GVariant type string of a metadata object, or null for content objects.</summary>
    public static string? GVariantTypeString(this ObjectType type) => type switch
    {
        ObjectType.DirTree => DirTree.TypeString,
        ObjectType.DirMeta => DirMeta.TypeString,
        ObjectType.Commit => Commit.TypeString,
        ObjectType.CommitMeta => "a{sv}",
        ObjectType.TombstoneCommit => "a{sv}",
        _ => null,
    };

    /// <summary>Maps an archive file extension (without dot) back to the object type.</summary>
    public static bool TryParseArchiveExtension(ReadOnlySpan<char> extension, out ObjectType type)
    {
        switch (extension)
        {
            case "filez":
                type = ObjectType.File;
                return true;
            case "dirtree":
                type = ObjectType.DirTree;
                return true;
            case "dirmeta":
                type = ObjectType.DirMeta;
                return true;
            case "commit":
                type = ObjectType.Commit;
                return true;
            case "commit-tombstone":
                type = ObjectType.TombstoneCommit;
                return true;
            case "commitmeta":
                type = ObjectType.CommitMeta;
                return true;
            default:
                type = default;
                return false;
        }
    }

    public static ObjectType ParseArchiveExtension(string extension) =>
        TryParseArchiveExtension(extension, out var t) ? t : throw new FormatException($"'{extension}' is not an OSTree object extension.");
}

/// <summary>An object in a repository: its checksum and type. Text form "hex.ext".</summary>
public readonly record struct ObjectName(Checksum Checksum, ObjectType Type) : IComparable<ObjectName>
{
    /// <summary>Orders by checksum, then type.</summary>
    public int CompareTo(ObjectName other)
    {
        int c = Checksum.CompareTo(other.Checksum);
        return c != 0 ? c : Type.CompareTo(other.Type);
    }

    /// <summary>"objects/XX/&lt;62 hex&gt;.&lt;ext&gt;" (forward slashes).</summary>
    public string RelativePath
    {
        get
        {
            var hex = Checksum.ToString();
            return $"objects/{hex[..2]}/{hex[2..]}.{Type.ToArchiveExtension()}";
        }
    }

    /// <summary>"&lt;64 hex&gt;.&lt;ext&gt;".</summary>
    public override string ToString() => $"{Checksum}.{Type.ToArchiveExtension()}";

    public static ObjectName Parse(string text) =>
        TryParse(text, out var n) ? n : throw new FormatException($"'{text}' is not an object name of the form <64 hex>.<type>.");

    /// <summary>Parses "&lt;64 hex&gt;.&lt;ext&gt;".</summary>
    public static bool TryParse([NotNullWhen(true)] string? text, out ObjectName name)
    {
        name = default;
        if (text is null || text.Length < Checksum.HexLength + 2 || text[Checksum.HexLength] != '.')
            return false;
        if (!Checksum.TryParse(text.AsSpan(0, Checksum.HexLength), out var c) || !IsLowerHex(text.AsSpan(0, Checksum.HexLength)))
            return false;
        if (!ObjectTypeExtensions.TryParseArchiveExtension(text.AsSpan(Checksum.HexLength + 1), out var t))
            return false;
        name = new ObjectName(c, t);
        return true;
    }

    /// <summary>
    /// Parses a path that ends in "objects/XX/&lt;62 hex&gt;.&lt;ext&gt;"; any leading folders are ignored
    /// (tarballs of a repository may have a prefix). Backslashes are accepted as separators.
    /// </summary>
    public static bool TryParseRelativePath([NotNullWhen(true)] string? path, out ObjectName name)
    {
        name = default;
        if (path is null)
            return false;
        var p = path.Replace('\\', '/').AsSpan();
        int lastSlash = p.LastIndexOf('/');
        if (lastSlash < 0)
            return false;
        var file = p[(lastSlash + 1)..];
        var rest = p[..lastSlash];
        int prevSlash = rest.LastIndexOf('/');
        var prefixDir = rest[(prevSlash + 1)..];
        var parent = prevSlash < 0 ? ReadOnlySpan<char>.Empty : rest[..prevSlash];
        int pp = parent.LastIndexOf('/');
        var objectsDir = parent[(pp + 1)..];
        if (!objectsDir.SequenceEqual("objects") || prefixDir.Length != 2 || file.Length < 62 + 2 || file[62] != '.')
            return false;
        Span<char> hex = stackalloc char[Checksum.HexLength];
        prefixDir.CopyTo(hex);
        file[..62].CopyTo(hex[2..]);
        if (!IsLowerHex(hex) || !Checksum.TryParse(hex, out var c))
            return false;
        if (!ObjectTypeExtensions.TryParseArchiveExtension(file[63..], out var t))
            return false;
        name = new ObjectName(c, t);
        return true;
    }

    private static bool IsLowerHex(ReadOnlySpan<char> s)
    {
        foreach (var ch in s)
        {
            if (!(ch is >= '0' and <= '9' or >= 'a' and <= 'f'))
                return false;
        }
        return true;
    }
}
