namespace OtaServer.OSTree.StaticDeltas;

/// <summary>A content object's header and sizes, read from its <c>.filez</c> without inflating the body.</summary>
internal sealed record ContentInfo(FileHeader Header, long Size, long StoredSize)
{
    /// <summary>Length of the canonical content stream (8 + header + content): what ostree compares with the fallback threshold.</summary>
    public long CanonicalSize => 8 + Header.SerializeContentHeader().Length + (Header.IsRegularFile ? Size : 0);

    /// <summary>Others may read it: only such objects may be read sources (bare-user clients must be able to open them).</summary>
    public bool IsWorldReadable => (Header.Mode & 0x4) != 0;
}

/// <summary>The objects reachable from one commit (no parents).</summary>
internal sealed class CommitObjects
{
    /// <summary>Reachable dirtree and dirmeta objects.</summary>
    public HashSet<ObjectName> Metadata { get; } = [];

    /// <summary>Reachable content objects with every path they appear at, in traversal (sorted) order.</summary>
    public Dictionary<Checksum, List<string>> Content { get; } = [];
}
