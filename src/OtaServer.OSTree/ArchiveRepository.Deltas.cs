using OtaServer.OSTree.StaticDeltas;

namespace OtaServer.OSTree;

/// <summary>What the static-delta compiler reads: content headers and sizes without inflating, whole contents, and the
/// objects of a commit with every path they appear at.</summary>
public sealed partial class ArchiveRepository
{
    internal byte[] ReadMetadata(Checksum checksum, ObjectType type) => ReadMetadata(new ObjectName(checksum, type));

    internal byte[]? TryReadCommitMeta(Checksum commit) => ReadCommitMeta(commit);

    internal ContentInfo ReadContentInfo(Checksum checksum)
    {
        using var stream = OpenObject(new ObjectName(checksum, ObjectType.File));
        var (header, size) = ContentObject.ReadArchiveHeader(stream);
        return new ContentInfo(header, checked((long)size), stream.Length);
    }

    /// <summary>Inflates a regular file's content (or returns a symlink's target bytes).</summary>
    internal byte[] ReadContent(Checksum checksum, ContentInfo info)
    {
        if (info.Header.IsSymlink)
            return System.Text.Encoding.UTF8.GetBytes(info.Header.SymlinkTarget);
        if (info.Size > Array.MaxLength)
            throw new NotSupportedException($"Content object {checksum} is {info.Size} bytes; objects over {Array.MaxLength} bytes must be fallbacks (set MinFallbackSize).");
        using var reader = ContentObject.OpenArchive(OpenObject(new ObjectName(checksum, ObjectType.File)));
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

    internal Commit ReadCommit(Checksum commit, out byte[] bytes)
    {
        bytes = ReadMetadata(commit, ObjectType.Commit);
        return Commit.Parse(bytes);
    }

    /// <summary>Walks the commit's trees (sorted by name, depth-first) collecting metadata and content paths.</summary>
    internal CommitObjects Walk(Commit commit, CancellationToken cancellationToken)
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
}
