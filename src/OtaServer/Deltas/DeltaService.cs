using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.Extensions.Options;
using OtaServer.Jobs;
using OtaServer.OSTree;
using OtaServer.OSTree.StaticDeltas;
using OtaServer.Repositories;

namespace OtaServer.Deltas;

/// <summary>
/// Generates static deltas into a staging folder inside the repository (never served), flushes them,
/// renames the folder into <c>deltas/…</c> create-only, then regenerates delta indexes, config and
/// summary. Published deltas are immutable; the generator is deterministic, so asking again for a
/// pair is a no-op and a regenerated delta equals the copy a CDN cached. Deleting unlists a delta at
/// once and removes its files after a grace period (<see cref="DeltaCleanupService"/>).
/// </summary>
internal sealed partial class DeltaService(
    RepositoryRegistry registry,
    RepositoryMetadata metadata,
    IOptions<DeltasOptions> options,
    TimeProvider time,
    ILogger<DeltaService> logger) : IDeltaService
{
    /// <summary>Stats document written next to the superblock; served with the delta.</summary>
    public const string StatsFile = "stats.json";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = true };
    private readonly ConcurrentDictionary<string, SemaphoreSlim> _pairLocks = new(StringComparer.Ordinal);

    public DeltaStats? Find(string repository, string? from, string to)
    {
        if (!registry.TryGetRoot(repository, out var root) || !TryName(from, to, out var name))
            return null;
        return ReadPublished(repository, root, name);
    }

    public IReadOnlyList<DeltaStats> List(string repository)
    {
        if (!registry.TryGetRoot(repository, out var root))
            return [];
        return RepositoryMetadata.ListPublishedDeltas(root)
            .Select(d => ReadPublished(repository, root, d))
            .OfType<DeltaStats>()
            .OrderBy(s => s.To, StringComparer.Ordinal).ThenBy(s => s.From, StringComparer.Ordinal)
            .ToList();
    }

    public async Task<DeltaStats> GenerateAsync(string repository, string? from, string to, IJobLog log, CancellationToken cancellationToken)
    {
        var (root, name) = Validate(repository, from, to);

        var gate = _pairLocks.GetOrAdd(repository + ":" + name, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(cancellationToken);
        try
        {
            var dir = Path.Combine(root, name.RelativeDirectory);
            var marker = Path.Combine(dir, RepositoryMetadata.DeletedMarker);
            if (Directory.Exists(dir) && File.Exists(Path.Combine(dir, "superblock")))
            {
                if (File.Exists(marker))
                {
                    // Deleted but not yet removed: the generator is deterministic, so republishing the
                    // same files is identical to generating them again.
                    using (await metadata.LockAsync(root, cancellationToken))
                    {
                        File.Delete(marker);
                        metadata.RegenerateSummary(root);
                    }
                    log.Write($"{name}: restored the deleted copy (same bytes)");
                }
                return ReadPublished(repository, root, name)
                    ?? throw new InvalidOperationException($"Delta {name} has no readable {StatsFile}.");
            }

            var staging = Path.Combine(root, RepositoryRegistry.StagingFolder, "delta-" + Guid.NewGuid().ToString("N"));
            try
            {
                var o = options.Value;
                var compilerOptions = new DeltaOptions
                {
                    MaxPartSize = o.MaxPartSize,
                    MinFallbackSize = o.MinFallbackSize,
                    MaxBsdiffSize = o.MaxBsdiffSize,
                    EnableBsdiff = o.EnableBsdiff,
                    EnableRollsum = o.EnableRollsum,
                    XzPreset = o.XzPreset,
                    Threads = o.Threads > 0 ? o.Threads : Environment.ProcessorCount,
                };
                var result = await DeltaCompiler.GenerateAsync(root, name.From, name.To, staging, compilerOptions, new LogProgress(log), cancellationToken);
                var stats = new DeltaStats(repository, name.From?.ToString(), name.To.ToString(), result.Parts, result.CompressedBytes,
                    result.UncompressedBytes, result.FallbackCount, result.FallbackBytes, result.SuperblockSize,
                    Math.Round(result.Elapsed.TotalSeconds, 3), result.GeneratorVersion, time.GetUtcNow(), result.FallbackUncompressedBytes);
                await File.WriteAllBytesAsync(Path.Combine(staging, StatsFile), JsonSerializer.SerializeToUtf8Bytes(stats, Json), cancellationToken);
                FlushDirectory(staging);
                cancellationToken.ThrowIfCancellationRequested();

                using (await metadata.LockAsync(root, CancellationToken.None))
                {
                    Directory.CreateDirectory(Path.GetDirectoryName(dir)!);
                    if (!AtomicRename.TryMoveNoReplace(staging, dir))
                        throw new IOException($"Delta folder {name.RelativeDirectory} appeared during generation.");
                    metadata.RegenerateSummary(root);
                }
                LogPublished(logger, repository, name.ToString(), stats.Parts, stats.DownloadBytes, stats.GenerationSeconds);
                log.Write($"{name}: published {stats.Parts} part(s), {stats.DownloadBytes} bytes to download, {stats.RequiredBytes} to write " +
                          $"({result.LiteralCount} literal, {result.RollsumCount} rollsum, {result.BsdiffCount} bsdiff, {result.FallbackCount} fallback objects)");
                return stats;
            }
            finally
            {
                if (Directory.Exists(staging))
                    Directory.Delete(staging, recursive: true);
            }
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>Unlists a delta now (summary and index); its files go after the grace period. False if it is not published.</summary>
    public async Task<bool> DeleteAsync(string repository, DeltaName name, CancellationToken cancellationToken)
    {
        if (!registry.TryGetRoot(repository, out var root))
            return false;
        var dir = Path.Combine(root, name.RelativeDirectory);
        using (await metadata.LockAsync(root, cancellationToken))
        {
            var marker = Path.Combine(dir, RepositoryMetadata.DeletedMarker);
            if (!File.Exists(Path.Combine(dir, "superblock")) || File.Exists(marker))
                return false;
            // Atomic: a torn or empty marker would block the cleanup. A kill before the summary is rewritten is
            // repaired at start (RepositoryReconciler) and before the files go (RemoveExpiredAsync).
            RepositoryMetadata.WriteReplacing(root, Path.Combine(name.RelativeDirectory, RepositoryMetadata.DeletedMarker),
                System.Text.Encoding.ASCII.GetBytes(time.GetUtcNow().ToString("O")));
            metadata.RegenerateSummary(root);
        }
        LogDeleted(logger, repository, name.ToString());
        return true;
    }

    /// <summary>
    /// Removes the files of deleted deltas whose grace period is over. Returns how many went. The summary is
    /// rewritten first, under the repository lock, so it never lists a delta whose files are gone.
    /// </summary>
    public async Task<int> RemoveExpiredAsync(CancellationToken cancellationToken)
    {
        var removed = 0;
        var cutoff = time.GetUtcNow() - options.Value.DeleteGracePeriod;
        foreach (var repository in registry.Names)
        {
            registry.TryGetRoot(repository, out var root);
            var expired = new ArchiveRepository(root).ListDeltas()
                .Select(d => Path.Combine(root, d.RelativeDirectory))
                .Where(dir => DeletedAt(Path.Combine(dir, RepositoryMetadata.DeletedMarker)) is { } at && at <= cutoff)
                .ToList();
            if (expired.Count == 0)
                continue;
            using (await metadata.LockAsync(root, cancellationToken))
            {
                if (!Repositories.RepositoryReconciler.SummaryMatchesDisk(root))
                    metadata.RegenerateSummary(root);
                foreach (var dir in expired)
                {
                    // Move out of the served tree first so no client sees a half-deleted folder.
                    var trash = Path.Combine(root, RepositoryRegistry.StagingFolder, "trash-" + Guid.NewGuid().ToString("N"));
                    Directory.Move(dir, trash);
                    Directory.Delete(trash, recursive: true);
                    removed++;
                }
            }
        }
        return removed;
    }

    /// <summary>When a delta was deleted: the marker's timestamp, or (unreadable or empty marker) its file time.</summary>
    private static DateTimeOffset? DeletedAt(string marker)
    {
        if (!File.Exists(marker))
            return null;
        try
        {
            if (DateTimeOffset.TryParse(File.ReadAllText(marker), System.Globalization.CultureInfo.InvariantCulture,
                    System.Globalization.DateTimeStyles.RoundtripKind, out var at))
                return at;
            return File.GetLastWriteTimeUtc(marker);
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>Checks a requested pair: known repository, two different complete commits. Throws <see cref="DeltaRequestException"/>.</summary>
    public (string Root, DeltaName Name) Validate(string repository, string? from, string to)
    {
        if (!registry.TryGetRoot(repository, out var root))
            throw new DeltaRequestException(404, "Unknown repository", $"No repository named '{repository}'.");
        if (!TryName(from, to, out var name))
            throw new DeltaRequestException(400, "Invalid commit", "'from' and 'to' must be 64-character hex commit checksums.");
        if (name.From == name.To)
            throw new DeltaRequestException(400, "Same commit", "'from' and 'to' are the same commit; a delta needs two different commits.");
        var repo = new ArchiveRepository(root);
        RequireCompleteCommit(repo, repository, name.To, "to");
        if (name.From is { } f)
            RequireCompleteCommit(repo, repository, f, "from");
        return (root, name);
    }

    internal static bool TryName(string? from, string to, out DeltaName name)
    {
        name = default;
        Checksum? f = null;
        if (from is not null)
        {
            if (!Checksum.TryParse(from, out var fc))
                return false;
            f = fc;
        }
        if (!Checksum.TryParse(to, out var t))
            return false;
        name = new DeltaName(f, t);
        return true;
    }

    private static void RequireCompleteCommit(ArchiveRepository repo, string repository, Checksum commit, string role)
    {
        if (!repo.HasObject(new ObjectName(commit, ObjectType.Commit)))
            throw new DeltaRequestException(422, "Unknown commit", $"The '{role}' commit {commit} is not in repository '{repository}'.");
        var walk = repo.WalkCommit(commit);
        if (!walk.IsComplete)
            throw new DeltaRequestException(422, "Incomplete commit",
                $"The '{role}' commit {commit} lacks {walk.Missing.Count} object(s) (first: {walk.Missing[0]}); push it completely first.");
    }

    private static DeltaStats? ReadPublished(string repository, string root, DeltaName name)
    {
        var dir = Path.Combine(root, name.RelativeDirectory);
        if (!File.Exists(Path.Combine(dir, "superblock")) || File.Exists(Path.Combine(dir, RepositoryMetadata.DeletedMarker)))
            return null;
        var statsPath = Path.Combine(dir, StatsFile);
        if (File.Exists(statsPath))
        {
            try
            {
                var stats = JsonSerializer.Deserialize<DeltaStats>(File.ReadAllBytes(statsPath), Json);
                // Stats written before fallbackUncompressedBytes existed: take it from the superblock.
                if (stats is { Fallbacks: > 0, FallbackUncompressedBytes: 0 } && TryReadSizes(dir) is { } old)
                    stats = stats with { FallbackUncompressedBytes = old.FallbackUncompressedBytes };
                if (stats is not null)
                    return stats with { Repository = repository };
            }
            catch (JsonException)
            {
            }
        }
        // A delta made by another tool (e.g. `ostree static-delta generate`): report what its superblock declares.
        var sb = new FileInfo(Path.Combine(dir, "superblock"));
        if (TryReadSizes(dir) is { } sizes)
            return new DeltaStats(repository, name.From?.ToString(), name.To.ToString(), sizes.Parts, sizes.PartBytes, sizes.PartUncompressedBytes,
                sizes.Fallbacks, sizes.FallbackBytes, sb.Length, 0, "unknown", sb.LastWriteTimeUtc, sizes.FallbackUncompressedBytes);
        var parts = 0;
        long compressed = 0;
        while (File.Exists(Path.Combine(dir, parts.ToString(System.Globalization.CultureInfo.InvariantCulture))))
            compressed += new FileInfo(Path.Combine(dir, (parts++).ToString(System.Globalization.CultureInfo.InvariantCulture))).Length;
        return new DeltaStats(repository, name.From?.ToString(), name.To.ToString(), parts, compressed, 0, 0, 0, sb.Length, 0, "unknown",
            sb.LastWriteTimeUtc);
    }

    private static DeltaSizes? TryReadSizes(string dir)
    {
        try
        {
            return DeltaSizes.FromSuperblock(File.ReadAllBytes(Path.Combine(dir, "superblock")));
        }
        catch (Exception e) when (e is InvalidDataException or IOException or FormatException or InvalidOperationException or ArgumentException or IndexOutOfRangeException)
        {
            return null;
        }
    }

    private static void FlushDirectory(string dir)
    {
        foreach (var file in Directory.EnumerateFiles(dir))
        {
            using var fs = new FileStream(file, FileMode.Open, FileAccess.ReadWrite);
            fs.Flush(flushToDisk: true);
        }
    }

    /// <summary>Forwards compiler progress lines to the job log synchronously (no SynchronizationContext hop).</summary>
    private sealed class LogProgress(IJobLog log) : IProgress<string>
    {
        public void Report(string value) => log.Write(value);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Published delta {Delta} in {Repo}: {Parts} parts, {Bytes} bytes to download, {Seconds} s")]
    private static partial void LogPublished(ILogger logger, string repo, string delta, int parts, long bytes, double seconds);

    [LoggerMessage(Level = LogLevel.Information, Message = "Unlisted delta {Delta} in {Repo}; its files go after the grace period")]
    private static partial void LogDeleted(ILogger logger, string repo, string delta);
}

/// <summary>A delta request that cannot be carried out; becomes a ProblemDetails (or a failed job with this reason).</summary>
internal sealed class DeltaRequestException(int status, string title, string detail) : Exception(detail)
{
    public int Status { get; } = status;
    public string Title { get; } = title;
}
