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

/// <summary>
/// Read-only access to the objects of an archive repository (<c>objects/XX/…</c>), enough for the
/// delta compiler. Thread-safe (every call opens its own file).
/// </summary>
internal sealed class DeltaSourceRepository(string root)
{
    public string Root { get; } = Path.GetFullPath(root);

    public string ObjectPath(Checksum checksum, ObjectType type)
    {
        var hex = checksum.ToString();
        return Path.Combine(Root, "objects", hex[..2], $"{hex[2..]}.{type.ToArchiveExtension()}");
    }

    public byte[] ReadMetadata(Checksum checksum, ObjectType type)
    {
        var path = ObjectPath(checksum, type);
        try
        {
            return File.ReadAllBytes(path);
        }
        catch (FileNotFoundException e)
        {
            throw new FileNotFoundException($"The repository {Root} has no {type} object {checksum} ({path}).", path, e);
        }
        catch (DirectoryNotFoundException e)
        {
            throw new FileNotFoundException($"The repository {Root} has no {type} object {checksum} ({path}).", path, e);
        }
    }

    public byte[]? TryReadCommitMeta(Checksum commit)
    {
        var path = ObjectPath(commit, ObjectType.CommitMeta);
        return File.Exists(path) ? File.ReadAllBytes(path) : null;
    }

    public ContentInfo ReadContentInfo(Checksum checksum)
    {
        var path = ObjectPath(checksum, ObjectType.File);
        using var stream = OpenRead(path, checksum, 4096);
        var (header, size) = ContentObject.ReadArchiveHeader(stream);
        return new ContentInfo(header, checked((long)size), stream.Length);
    }

    /// <summary>Inflates a regular file's content (or returns a symlink's target bytes).</summary>
    public byte[] ReadContent(Checksum checksum, ContentInfo info)
    {
        if (info.Header.IsSymlink)
            return System.Text.Encoding.UTF8.GetBytes(info.Header.SymlinkTarget);
        if (info.Size > Array.MaxLength)
            throw new NotSupportedException($"Content object {checksum} is {info.Size} bytes; objects over {Array.MaxLength} bytes must be fallbacks (set MinFallbackSize).");
        var path = ObjectPath(checksum, ObjectType.File);
        using var reader = ContentObject.OpenArchive(OpenRead(path, checksum, 64 * 1024));
        var data = GC.AllocateUninitializedArray<byte>((int)info.Size);
        try
        {
            reader.Content.ReadExactly(data);
        }
        catch (EndOfStreamException e)
        {
            throw new InvalidDataException($"Content object {checksum} is shorter than its declared {info.Size} bytes.", e);
        }

        if (reader.Content.ReadByte() != -1)
            throw new InvalidDataException($"Content object {checksum} is longer than its declared {info.Size} bytes.");
        return data;
    }

    public Commit ReadCommit(Checksum commit, out byte[] bytes)
    {
        bytes = ReadMetadata(commit, ObjectType.Commit);
        return Commit.Parse(bytes);
    }

    /// <summary>Walks the commit's trees (sorted by name, depth-first) collecting metadata and content paths.</summary>
    public CommitObjects Walk(Commit commit, CancellationToken cancellationToken)
    {
        var result = new CommitObjects();
        result.Metadata.Add(new ObjectName(commit.RootDirMeta, ObjectType.DirMeta));
        WalkTree(commit.RootDirTree, "/", result, cancellationToken);
        return result;
    }

    private void WalkTree(Checksum tree, string prefix, CommitObjects result, CancellationToken ct)
    {
        ct.ThrowIfCancellationRequested();
        var treeName = new ObjectName(tree, ObjectType.DirTree);
        if (!result.Metadata.Add(treeName))
        {
            // Identical subtrees: content already collected under the first path; record the new paths too.
        }

        var dirTree = DirTree.Parse(ReadMetadata(tree, ObjectType.DirTree));
        foreach (var file in dirTree.Files)
        {
            if (!result.Content.TryGetValue(file.Checksum, out var paths))
            {
                paths = new List<string>(1);
                result.Content.Add(file.Checksum, paths);
            }

            paths.Add(prefix + file.Name);
        }

        foreach (var dir in dirTree.Dirs)
        {
            result.Metadata.Add(new ObjectName(dir.Meta, ObjectType.DirMeta));
            WalkTree(dir.Tree, prefix + dir.Name + "/", result, ct);
        }
    }

    private static FileStream OpenRead(string path, Checksum checksum, int bufferSize)
    {
        try
        {
            return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new FileNotFoundException($"The repository has no content object {checksum} ({path}).", path, e);
        }
    }
}
