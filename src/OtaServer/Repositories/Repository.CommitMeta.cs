using OtaServer.OSTree;
using OtaServer.OSTree.StaticDeltas;

namespace OtaServer.Repositories;

/// <summary>
/// Detached metadata (<c>.commitmeta</c>) is the one mutable object, and a static delta's superblock carries its target
/// commit's copy (metadata key <c>deltas/…/commitmeta</c>), which a client pulling through the delta verifies the commit
/// with. When the commit's <c>.commitmeta</c> changes (a signature added), the superblocks of the deltas to it are
/// rewritten with the new copy (parts do not hold it), then the summary and indexes that name each superblock by digest.
/// Call these with the lock held.
/// </summary>
public sealed partial class Repository
{
    /// <summary>Replaces a commit's detached metadata atomically (verified and merged by the caller).</summary>
    public void ReplaceCommitMeta(Checksum commit, ReadOnlySpan<byte> bytes) =>
        Storage.Replace(new ObjectName(commit, ObjectType.CommitMeta).RelativePath, bytes);

    /// <summary>Rewrites every published delta to <paramref name="target"/> whose copy differs from <paramref name="commitMeta"/>; returns how many.</summary>
    public int SyncDeltaCommitMeta(Checksum target, byte[]? commitMeta)
    {
        var changed = 0;
        foreach (var delta in ListPublishedDeltas())
        {
            if (delta.To == target && SyncDeltaCommitMeta(delta, commitMeta))
                changed++;
        }

        return changed;
    }

    /// <summary>Brings every published delta's copy in line with its target's stored <c>.commitmeta</c>; returns how many changed.</summary>
    public int SyncAllDeltaCommitMeta()
    {
        var changed = 0;
        foreach (var delta in ListPublishedDeltas())
        {
            if (SyncDeltaCommitMeta(delta, Reader.ReadCommitMeta(delta.To)))
                changed++;
        }

        return changed;
    }

    private bool SyncDeltaCommitMeta(DeltaName delta, byte[]? commitMeta)
    {
        if (ReadDeltaFile(delta, "superblock") is not { } bytes)
            return false;
        var sb = GVariant.Parse(DeltaSizes.SuperblockType, bytes);
        var key = delta.CommitMetaKey;
        var current = sb[0].Lookup(key);
        if (commitMeta is null ? current is null : current is not null && current.Serialize().AsSpan().SequenceEqual(commitMeta))
            return false;
        var entries = sb[0].DictEntries().Where(e => e.Key != key).ToList();
        if (commitMeta is not null)
            entries.Add(KeyValuePair.Create(key, GVariant.FromSerialized(GVariantType.VarDict, commitMeta)));
        var rewritten = GVariant.Tuple([GVariant.VarDict(entries), .. sb.Items.Skip(1)]).Serialize();
        Storage.Replace(delta.SuperblockRelativePath, rewritten);
        return true;
    }
}
