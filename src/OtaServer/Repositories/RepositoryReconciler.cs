using OtaServer.OSTree;

namespace OtaServer.Repositories;

/// <summary>
/// Runs once at start, before any job or request: a server killed mid-write (between a ref move and its summary,
/// between a delta's publication or deletion and the summary) leaves the summary out of step with the refs and
/// deltas on disk, and writers' temporary files behind. For each repository this removes those leftovers and,
/// when the summary does not list exactly the refs and published deltas on disk, regenerates summary, config
/// and delta indexes. A summary that already matches is left alone, so its ETag survives a restart (unless
/// signing keys are configured: then it is signed anew with the keys of this start).
/// </summary>
internal sealed partial class RepositoryReconciler(RepositoryRegistry registry, RepositoryMetadata metadata,
    Signing.SummarySigner signer, ILogger<RepositoryReconciler> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        foreach (var name in registry.Names)
        {
            registry.TryGetRoot(name, out var root);
            var removed = RemoveWriterLeftovers(root);
            using (await metadata.LockAsync(root, cancellationToken))
            {
                // With signing keys configured, the summary is re-signed at every start: the keys may have
                // changed (rotation) since summary.sig was written. Without keys, no stale summary.sig stays.
                var signatureCurrent = signer.Enabled
                    ? !File.Exists(Path.Combine(root, "summary"))
                    : !File.Exists(Path.Combine(root, "summary.sig"));
                if (signatureCurrent && SummaryMatchesDisk(root))
                {
                    if (removed > 0)
                        LogCleaned(logger, name, removed);
                    continue;
                }
                metadata.RegenerateSummary(root);
            }
            LogReconciled(logger, name, removed);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>True when <c>summary</c> lists exactly the refs under refs/heads and the published deltas.</summary>
    internal static bool SummaryMatchesDisk(string root)
    {
        var path = Path.Combine(root, "summary");
        if (!File.Exists(path) && new ArchiveRepository(root).ListRefs().Count == 0 && RepositoryMetadata.ListPublishedDeltas(root).Count == 0)
            return true; // a new, empty repository has no summary until its first ref
        Summary summary;
        try
        {
            summary = Summary.Parse(File.ReadAllBytes(path));
        }
        catch (Exception e) when (e is IOException or FormatException)
        {
            return false; // missing, unreadable or torn: write it anew
        }
        var repo = new ArchiveRepository(root);
        var refs = repo.ListRefs().Select(r => (r.Name, r.Commit)).ToHashSet();
        if (!refs.SetEquals(summary.Refs.Select(r => (r.Name, r.Commit))))
            return false;
        var deltas = new HashSet<(DeltaName, Checksum)>();
        foreach (var d in RepositoryMetadata.ListPublishedDeltas(root))
        {
            try
            {
                using var sb = File.OpenRead(repo.DeltaSuperblockPath(d));
                deltas.Add((d, Checksum.Compute(sb)));
            }
            catch (IOException)
            {
                return false;
            }
        }
        return deltas.SetEquals(summary.Deltas.Select(d => (d.Name, d.SuperblockChecksum)));
    }

    /// <summary>
    /// Temporary files of the metadata writers (<c>.X.tmp-*</c> beside refs, summary, config and delta indexes),
    /// staging folders of delta jobs and delta removal (<c>tmp/delta-*</c>, <c>tmp/trash-*</c>) and of uploads
    /// (<c>tmp/ingest-*</c>, <c>tmp/object-*</c>, see <see cref="Ingest.ObjectImporter"/>). Nothing writes them
    /// before the first request or job, so every one found now is a leftover.
    /// </summary>
    internal static int RemoveWriterLeftovers(string root)
    {
        var removed = 0;
        var staging = Path.Combine(root, RepositoryRegistry.StagingFolder);
        if (Directory.Exists(staging))
        {
            foreach (var pattern in new[] { "delta-*", "trash-*", "ingest-*" })
                foreach (var dir in Directory.EnumerateDirectories(staging, pattern))
                    removed += TryDeleteDirectory(dir);
            foreach (var file in Directory.EnumerateFiles(staging, "object-*"))
                removed += TryDeleteFile(file);
        }
        foreach (var folder in new[] { "", "refs", "delta-indexes" })
        {
            var dir = Path.Combine(root, folder);
            if (!Directory.Exists(dir))
                continue;
            var option = folder.Length == 0 ? SearchOption.TopDirectoryOnly : SearchOption.AllDirectories;
            foreach (var file in Directory.EnumerateFiles(dir, ".*.tmp-*", option))
                removed += TryDeleteFile(file);
        }
        return removed;
    }

    private static int TryDeleteDirectory(string path)
    {
        try { Directory.Delete(path, recursive: true); return 1; }
        catch (IOException) { return 0; }
        catch (UnauthorizedAccessException) { return 0; }
    }

    private static int TryDeleteFile(string path)
    {
        try { File.Delete(path); return 1; }
        catch (IOException) { return 0; }
        catch (UnauthorizedAccessException) { return 0; }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Repository {Repo}: the summary did not match the refs and deltas on disk (an interrupted write); regenerated it, and removed {Removed} leftover temporary file(s)")]
    private static partial void LogReconciled(ILogger logger, string repo, int removed);

    [LoggerMessage(Level = LogLevel.Information, Message = "Repository {Repo}: removed {Removed} leftover temporary file(s) of interrupted writes")]
    private static partial void LogCleaned(ILogger logger, string repo, int removed);
}
