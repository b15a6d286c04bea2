using OtaServer.OSTree;
using OtaServer.OSTree.StaticDeltas;
using OtaServer.Repositories;

namespace OtaServer.Signing;

/// <summary>
/// A static delta's superblock carries its target commit's detached metadata (metadata key
/// <c>deltas/…/commitmeta</c>), and a client pulling through the delta verifies the commit with that copy, not
/// with <c>objects/…commitmeta</c>. When the commit's <c>.commitmeta</c> changes (a signature added), the
/// superblocks of the deltas to it are rewritten with the new copy (parts are untouched: they do not hold it), and
/// the caller regenerates the summary and delta indexes, which name each superblock by its SHA-256.
/// Call with the repository's metadata lock held.
/// </summary>
internal static class DeltaSuperblocks
{
    /// <summary>Rewrites every published delta to <paramref name="target"/> whose copy differs from <paramref name="commitMeta"/>; returns how many.</summary>
    public static int Sync(string repoRoot, Checksum target, byte[]? commitMeta)
    {
        var changed = 0;
        foreach (var delta in RepositoryMetadata.ListPublishedDeltas(repoRoot))
            if (delta.To == target && Sync(repoRoot, delta, commitMeta))
                changed++;
        return changed;
    }

    /// <summary>Rewrites the superblock of <paramref name="delta"/> when its copy of the target's detached metadata is not <paramref name="commitMeta"/>.</summary>
    public static bool Sync(string repoRoot, DeltaName delta, byte[]? commitMeta)
    {
        var path = Path.Combine(repoRoot, delta.SuperblockRelativePath);
        var bytes = File.ReadAllBytes(path);
        var sb = GVariant.Parse(DeltaSizes.SuperblockType, bytes);
        var key = delta.CommitMetaKey;
        var current = sb[0].Lookup(key);
        if (commitMeta is null ? current is null : current is not null && current.Serialize().AsSpan().SequenceEqual(commitMeta))
            return false;
        var entries = sb[0].DictEntries().Where(e => e.Key != key).ToList();
        if (commitMeta is not null)
            entries.Add(KeyValuePair.Create(key, GVariant.FromSerialized(GVariantType.VarDict, commitMeta)));
        var rewritten = GVariant.Tuple([GVariant.VarDict(entries), .. sb.Items.Skip(1)]).Serialize();
        RepositoryMetadata.WriteReplacing(repoRoot, delta.SuperblockRelativePath, rewritten);
        return true;
    }

    /// <summary>Brings every published delta's copy in line with its target's <c>.commitmeta</c> on disk; returns how many changed.</summary>
    public static int SyncAll(string repoRoot)
    {
        var repo = new ArchiveRepository(repoRoot);
        var changed = 0;
        foreach (var delta in RepositoryMetadata.ListPublishedDeltas(repoRoot))
            if (Sync(repoRoot, delta, repo.ReadCommitMeta(delta.To)))
                changed++;
        return changed;
    }
}
