using System.Collections.Concurrent;
using System.Security.Cryptography;
using OtaServer.OSTree;
using OtaServer.Signing;

namespace OtaServer.Repositories;

/// <summary>
/// Owns the mutable files of each repository (refs, <c>summary</c>, <c>config</c>, <c>delta-indexes/</c>):
/// one lock per repository, and regeneration in the order clients depend on — delta indexes,
/// then <c>config</c>, then <c>summary</c> — each written to a temp file and renamed over the old one.
/// A delta whose folder holds a <see cref="DeletedMarker"/> file is no longer listed (its files stay
/// served until the grace period ends).
/// </summary>
public sealed partial class RepositoryMetadata(TimeProvider time, ILogger<RepositoryMetadata> logger, SummarySigner signer, SummaryPairs pairs)
{
    /// <summary>Marker file inside a delta folder: the delta is unpublished and awaits removal.</summary>
    public const string DeletedMarker = ".deleted";

    private readonly ConcurrentDictionary<string, SemaphoreSlim> _locks = new(StringComparer.Ordinal);

    /// <summary>Takes the repository's metadata lock; dispose to release.</summary>
    public async Task<IDisposable> LockAsync(string repoRoot, CancellationToken cancellationToken)
    {
        var gate = _locks.GetOrAdd(Path.GetFullPath(repoRoot), _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(cancellationToken);
        return new Releaser(gate);
    }

    /// <summary>The published deltas of a repository (superblock present, not marked deleted).</summary>
    public static IReadOnlyList<DeltaName> ListPublishedDeltas(string repoRoot) =>
        new ArchiveRepository(repoRoot).ListDeltas()
            .Where(d => !File.Exists(Path.Combine(repoRoot, d.RelativeDirectory, DeletedMarker)))
            .ToList();

    /// <summary>Rewrites delta indexes, config and summary. Call with the repository lock held.</summary>
    public void RegenerateSummary(string repoRoot)
    {
        var repo = new ArchiveRepository(repoRoot);
        var deltas = new List<SummaryDelta>();
        DeltaSuperblocks.SyncAll(repoRoot); // each superblock carries its target's current .commitmeta
        foreach (var d in ListPublishedDeltas(repoRoot))
        {
            using var sb = File.OpenRead(repo.DeltaSuperblockPath(d));
            deltas.Add(new SummaryDelta(d, Checksum.Compute(sb)));
        }

        // 1. Delta indexes: one per target, listing every delta to it; stale ones removed.
        var wanted = new HashSet<string>(StringComparer.Ordinal);
        foreach (var group in deltas.GroupBy(d => d.Name.To))
        {
            var rel = DeltaPaths.Index(group.Key);
            wanted.Add(Path.GetFullPath(Path.Combine(repoRoot, rel)));
            WriteReplacing(repoRoot, rel, DeltaIndex.Write(group.Key, group));
        }
        var indexDir = Path.Combine(repoRoot, "delta-indexes");
        if (Directory.Exists(indexDir))
        {
            foreach (var stale in Directory.EnumerateFiles(indexDir, "*.index", SearchOption.AllDirectories))
                if (!wanted.Contains(Path.GetFullPath(stale)))
                    File.Delete(stale);
        }

        // 2. config: indexed deltas on, so ref@commit pulls find the indexes without the summary.
        var config = repo.ReadConfig();
        if (!config.IndexedDeltas)
        {
            config.Set("core", "indexed-deltas", "true");
            WriteReplacing(repoRoot, "config", System.Text.Encoding.UTF8.GetBytes(config.ToString()));
        }

        // 3. summary (we always serve config, so the mode keys may be listed).
        var refs = repo.ListSummaryRefs();
        var summary = SummaryWriter.Write(refs, deltas, new SummaryOptions
        {
            IndexedDeltas = true,
            Mode = config.Mode ?? "archive-z2",
            TombstoneCommits = config.TombstoneCommits,
            LastModified = time.GetUtcNow(),
        });
        if (signer.Enabled)
        {
            // Signed with the configured keys (BouncyCastle); both files are replaced by rename, the signature
            // right after the summary it covers.
            var sig = signer.SignDetached(summary);
            // Served as one generation (see SummaryPairs); the files are for restarts and other servers.
            pairs.Published(repoRoot, summary, sig);
            WriteReplacing(repoRoot, "summary", summary);
            WriteReplacing(repoRoot, "summary.sig", sig);
        }
        else
        {
            WriteReplacing(repoRoot, "summary", summary);
            // A signature over the previous summary no longer matches.
            File.Delete(Path.Combine(repoRoot, "summary.sig"));
        }
        LogRegenerated(logger, repoRoot, refs.Count, deltas.Count);
    }

    /// <summary>Writes a mutable file: temp file in the same folder, flushed, renamed over the old one.</summary>
    public static void WriteReplacing(string repoRoot, string relativePath, ReadOnlySpan<byte> bytes)
    {
        var final = Path.Combine(repoRoot, relativePath);
        var dir = Path.GetDirectoryName(final)!;
        Directory.CreateDirectory(dir);
        var temp = Path.Combine(dir, "." + Path.GetFileName(final) + ".tmp-" + Guid.NewGuid().ToString("N"));
        try
        {
            using (var fs = new FileStream(temp, FileMode.CreateNew, FileAccess.Write))
            {
                fs.Write(bytes);
                fs.Flush(flushToDisk: true);
            }
            File.Move(temp, final, overwrite: true);
        }
        catch
        {
            // A full disk or an I/O error: the old file stays as it was, and no temporary file is left behind.
            TryDelete(temp);
            throw;
        }
    }

    private static void TryDelete(string path)
    {
        try { File.Delete(path); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }

    private sealed class Releaser(SemaphoreSlim gate) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
                gate.Release();
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Regenerated summary of {Repo}: {Refs} refs, {Deltas} deltas")]
    private static partial void LogRegenerated(ILogger logger, string repo, int refs, int deltas);
}
