namespace OtaServer.OSTree;

/// <summary>Static-delta relative paths (§6.1); thin helpers over <see cref="DeltaName"/>.</summary>
public static class DeltaPaths
{
    /// <summary>"deltas/XX/rest".</summary>
    public static string Directory(Checksum? from, Checksum to) => new DeltaName(from, to).RelativeDirectory;

    /// <summary>"deltas/XX/rest/superblock".</summary>
    public static string Superblock(Checksum? from, Checksum to) => new DeltaName(from, to).SuperblockRelativePath;

    /// <summary>"deltas/XX/rest/&lt;index&gt;".</summary>
    public static string Part(Checksum? from, Checksum to, int index) => new DeltaName(from, to).PartRelativePath(index);

    /// <summary>"delta-indexes/XX/rest.index".</summary>
    public static string Index(Checksum to) => DeltaName.IndexRelativePath(to);

    /// <summary>Parses a delta directory (or superblock/part) path back to (from?, to).</summary>
    public static bool TryParse(string? path, out Checksum? from, out Checksum to)
    {
        if (DeltaName.TryParseRelativePath(path, out var name))
        {
            from = name.From;
            to = name.To;
            return true;
        }
        from = null;
        to = default;
        return false;
    }
}
