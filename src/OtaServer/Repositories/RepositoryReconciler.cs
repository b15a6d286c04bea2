namespace OtaServer.Repositories;

/// <summary>
/// Runs once at start, before any job or request: a server killed mid-write (between a ref move and its summary,
/// between a delta's publication or deletion and the summary) leaves the summary out of step with the refs and
/// deltas on disk, and writers' temporary files behind. For each repository this removes those leftovers and,
/// when the summary does not list exactly the refs and published deltas on disk, regenerates summary, config
/// and delta indexes. A summary that already matches is left alone, so its ETag survives a restart (unless
/// signing keys are configured: then it is signed anew with the keys of this start).
/// </summary>
internal sealed partial class RepositoryReconciler(RepositoryRegistry registry, ILogger<RepositoryReconciler> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        foreach (var repository in registry.All)
        {
            var removed = repository.Storage.RemoveLeftovers();
            using (await repository.LockAsync(cancellationToken))
            {
                // With signing keys configured, the summary is re-signed at every start: the keys may have
                // changed (rotation) since summary.sig was written. Without keys, no stale summary.sig stays.
                var signatureCurrent = repository.SignsSummary ? !repository.HasSummary : !repository.HasSummarySignature;
                if (signatureCurrent && repository.SummaryMatchesStorage())
                {
                    if (removed > 0)
                        LogCleaned(logger, repository.Name, removed);
                    continue;
                }
                repository.RegenerateSummary();
            }
            LogReconciled(logger, repository.Name, removed);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(Level = LogLevel.Warning, Message = "Repository {Repo}: the summary did not match the refs and deltas on disk (an interrupted write); regenerated it, and removed {Removed} leftover temporary file(s)")]
    private static partial void LogReconciled(ILogger logger, string repo, int removed);

    [LoggerMessage(Level = LogLevel.Information, Message = "Repository {Repo}: removed {Removed} leftover temporary file(s) of interrupted writes")]
    private static partial void LogCleaned(ILogger logger, string repo, int removed);
}
