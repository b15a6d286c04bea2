using OtaServer.OSTree;
using OtaServer.Repositories;

namespace OtaServer.Signing;

/// <summary>
/// Stores uploaded detached metadata (<c>.commitmeta</c>, format already verified). Unlike every other object it is
/// mutable: a push that brings new signatures for a commit the server has merges them into the stored file
/// (<see cref="DetachedMetadata.Merge"/>: no signature is ever dropped) and replaces it atomically. Under the
/// repository's metadata lock, the superblocks of deltas to that commit are rewritten first, then the
/// <c>.commitmeta</c>, then the summary (which names the superblocks by digest): a client never gets a delta
/// carrying the old metadata once the new one is stored.
/// </summary>
public sealed partial class CommitMetaStore(ILogger<CommitMetaStore> logger)
{
    public sealed record Outcome(int Created, int Replaced, int Unchanged);

    /// <exception cref="InvalidObjectException">An upload's (or the stored) metadata is not valid detached metadata.</exception>
    public async Task<Outcome> StoreAsync(Repository repository, IReadOnlyList<(ObjectName Name, byte[] Bytes)> items, CancellationToken cancellationToken)
    {
        if (items.Count == 0)
            return new(0, 0, 0);
        int created = 0, replaced = 0, unchanged = 0, deltas = 0;
        using (await repository.LockAsync(cancellationToken))
        {
            var repo = repository.Reader;
            foreach (var (name, bytes) in items)
            {
                var existing = repo.ReadCommitMeta(name.Checksum);
                byte[] final;
                try
                {
                    DetachedMetadata.Signatures(bytes);
                    final = existing is null ? bytes : DetachedMetadata.Merge(existing, bytes);
                }
                catch (FormatException e)
                {
                    throw new InvalidObjectException(name, e.Message, e);
                }
                if (ReferenceEquals(final, existing))
                {
                    unchanged++;
                    continue;
                }
                deltas += repository.SyncDeltaCommitMeta(name.Checksum, final);
                repository.ReplaceCommitMeta(name.Checksum, final);
                if (existing is null)
                {
                    created++;
                }
                else
                {
                    replaced++;
                    LogReplaced(logger, name.Checksum.ToString(), DetachedMetadata.Signatures(existing).Count, DetachedMetadata.Signatures(final).Count, deltas);
                }
            }
            if (deltas > 0)
                repository.RegenerateSummary();
        }
        return new(created, replaced, unchanged);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Detached metadata of {Commit} replaced: {Before} → {After} signatures; {Deltas} delta superblocks rewritten")]
    private static partial void LogReplaced(ILogger logger, string commit, int before, int after, int deltas);
}
