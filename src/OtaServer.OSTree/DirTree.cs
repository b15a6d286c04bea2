namespace OtaServer.OSTree;

/// <summary>A file entry of a dirtree: name and content-object checksum.</summary>
public sealed record DirTreeFile(string Name, Checksum Checksum);

/// <summary>A subdirectory entry of a dirtree: name, dirtree checksum and dirmeta checksum.</summary>
public sealed record DirTreeDir(string Name, Checksum Tree, Checksum Meta);

/// <summary>
/// A dirtree object <c>(a(say)a(sayay))</c> (§4.2). Entries are kept in the given order; ostree writers sort both
/// lists bytewise by name (use <see cref="Create"/> to sort).
/// </summary>
public sealed class DirTree
{
    public const string TypeString = "(a(say)a(sayay))";

    public static readonly GVariantType VariantType = GVariantType.Parse(TypeString);

    public IReadOnlyList<DirTreeFile> Files { get; init; } = [];

    public IReadOnlyList<DirTreeDir> Dirs { get; init; } = [];

    /// <summary>A dirtree with both lists sorted bytewise (ordinal UTF-8 order) by name, as ostree writes them.</summary>
    public static DirTree Create(IEnumerable<DirTreeFile> files, IEnumerable<DirTreeDir> dirs) => new()
    {
        Files = files.OrderBy(f => f.Name, Utf8Ordinal.Instance).ToArray(),
        Dirs = dirs.OrderBy(d => d.Name, Utf8Ordinal.Instance).ToArray(),
    };

    /// <summary>Parses a dirtree; requires normal form, 32-byte checksums and valid entry names.</summary>
    /// <exception cref="FormatException">Not a valid dirtree.</exception>
    public static DirTree Parse(ReadOnlySpan<byte> data)
    {
        var v = GVariant.ParseNormalForm(VariantType, data.ToArray());
        var files = v[0].Items.Select(f => new DirTreeFile(ValidateName(f[0].GetString()), Commit.ReadChecksum(f[1], "file"))).ToArray();
        var dirs = v[1].Items.Select(d => new DirTreeDir(ValidateName(d[0].GetString()),
            Commit.ReadChecksum(d[1], "dirtree"), Commit.ReadChecksum(d[2], "dirmeta"))).ToArray();
        RequireSortedUnique(files.Select(f => f.Name), "file");
        RequireSortedUnique(dirs.Select(d => d.Name), "directory");
        var fileNames = files.Select(f => f.Name).ToHashSet(StringComparer.Ordinal);
        if (dirs.FirstOrDefault(d => fileNames.Contains(d.Name)) is { } both)
            throw new FormatException($"'{both.Name}' is listed both as a file and as a directory.");
        return new DirTree { Files = files, Dirs = dirs };
    }

    /// <summary>ostree writes each list sorted bytewise with unique names; a checkout of anything else fails.</summary>
    private static void RequireSortedUnique(IEnumerable<string> names, string kind)
    {
        string? previous = null;
        foreach (var name in names)
        {
            if (previous is not null)
            {
                var order = Utf8Ordinal.Instance.Compare(previous, name);
                if (order == 0)
                    throw new FormatException($"the {kind} name '{name}' is listed twice.");
                if (order > 0)
                    throw new FormatException($"the {kind} names are not sorted ('{previous}' before '{name}').");
            }
            previous = name;
        }
    }

    /// <summary>Names must be non-empty, not "." or "..", and contain no '/' (what the client validates on pull).</summary>
    public static string ValidateName(string name)
    {
        if (name.Length == 0 || name == "." || name == ".." || name.Contains('/'))
            throw new FormatException($"'{name}' is not a valid dirtree entry name.");
        return name;
    }

    public GVariant ToGVariant() => GVariant.Tuple(
        GVariant.Array("(say)", Files.Select(f => GVariant.Tuple(GVariant.String(f.Name), GVariant.Bytes(f.Checksum.ToArray())))),
        GVariant.Array("(sayay)", Dirs.Select(d => GVariant.Tuple(GVariant.String(d.Name),
            GVariant.Bytes(d.Tree.ToArray()), GVariant.Bytes(d.Meta.ToArray())))));

    public byte[] Serialize() => ToGVariant().Serialize();

    public Checksum ComputeChecksum() => Checksum.Compute(Serialize());
}

/// <summary>Orders strings by their UTF-8 bytes (what C strcmp does), not by UTF-16 code units.</summary>
public sealed class Utf8Ordinal : IComparer<string>
{
    public static readonly Utf8Ordinal Instance = new();

    public int Compare(string? x, string? y)
    {
        if (ReferenceEquals(x, y))
            return 0;
        if (x is null)
            return -1;
        if (y is null)
            return 1;
        return System.Text.Encoding.UTF8.GetBytes(x).AsSpan().SequenceCompareTo(System.Text.Encoding.UTF8.GetBytes(y));
    }
}
