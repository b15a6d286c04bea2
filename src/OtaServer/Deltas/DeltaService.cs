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
    IOptions<DeltasOptions> options,
    TimeProvider time,
    ILogger<DeltaService> logger) : IDeltaService
{
    /// <summary>Stats document written next to the superblock; served with the delta.</summary>
    public const string StatsFile = Repository.DeltaStatsFile;

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    public DeltaStats? Find(string repository, string? from, string to)
    {
        if (!registry.TryGet(repository, out var repo) || !TryName(from, to, out var name))
            return null;
        return ReadPublished(repo, name);
    }

    public IReadOnlyList<DeltaStats> List(string repository)
    {
        if (!registry.TryGet(repository, out var repo))
            return [];
        return repo.ListPublishedDeltas()
            .Select(d => ReadPublished(repo, d))
            .OfType<DeltaStats>()
            .OrderBy(s => s.To, StringComparer.Ordinal).ThenBy(s => s.From, StringComparer.Ordinal)
            .ToList();
    }

    public async Task<DeltaStats> GenerateAsync(string repository, string? from, string to, IJobLog log, CancellationToken cancellationToken)
    {
        var (repo, name) = Validate(repository, from, to);

        // Callers hold the pair's lock (StaticDeltasJobHandler, through which every generation runs).
        if (repo.HasDeltaFiles(name))
        {
            if (repo.IsMarkedDeleted(name))
            {
                // Deleted but not yet removed: the generator is deterministic, so republishing the
                // same files is identical to generating them again.
                await repo.RestoreDeltaAsync(name, cancellationToken);
                log.Write($"{name}: restored the deleted copy (same bytes)");
            }
            return ReadPublished(repo, name)
                ?? throw new InvalidOperationException($"Delta {name} has no readable {StatsFile}.");
        }

        var staging = repo.CreateScratchFolder("delta-");
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
            var result = await DeltaCompiler.GenerateAsync(repo.Reader, name.From, name.To, staging, compilerOptions, new LogProgress(log), cancellationToken);
            var stats = new DeltaStats(repository, name.From?.ToString(), name.To.ToString(), result.Parts, result.CompressedBytes,
                result.UncompressedBytes, result.FallbackCount, result.FallbackBytes, result.SuperblockSize,
                Math.Round(result.Elapsed.TotalSeconds, 3), result.GeneratorVersion, time.GetUtcNow(), result.FallbackUncompressedBytes);
            await File.WriteAllBytesAsync(Path.Combine(staging, StatsFile), JsonSerializer.SerializeToUtf8Bytes(stats, Json), cancellationToken);
            cancellationToken.ThrowIfCancellationRequested();
            if (!await repo.PublishDeltaAsync(name, staging))
                throw new IOException($"Delta {name} appeared during generation.");
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

    /// <summary>Unlists a delta now (summary and index); its files go after the grace period. False if it is not published.</summary>
    public async Task<bool> DeleteAsync(string repository, DeltaName name, CancellationToken cancellationToken)
    {
        if (!registry.TryGet(repository, out var repo) || !await repo.UnlistDeltaAsync(name, cancellationToken))
            return false;
        LogDeleted(logger, repository, name.ToString());
        return true;
    }

    /// <summary>Removes the files of deleted deltas whose grace period is over. Returns how many went.</summary>
    public async Task<int> RemoveExpiredAsync(CancellationToken cancellationToken)
    {
        var removed = 0;
        var cutoff = time.GetUtcNow() - options.Value.DeleteGracePeriod;
        foreach (var repo in registry.All)
            removed += await repo.RemoveUnlistedDeltasAsync(at => at <= cutoff, cancellationToken);
        return removed;
    }

    /// <summary>Checks a requested pair: known repository, two different complete commits. Throws <see cref="DeltaRequestException"/>.</summary>
    public (Repository Repository, DeltaName Name) Validate(string repository, string? from, string to)
    {
        if (!registry.TryGet(repository, out var repo))
            throw new DeltaRequestException(404, Http.Problems.UnknownRepositoryTitle, Http.Problems.UnknownRepositoryDetail(repository, registry.Names));
        if (!TryName(from, to, out var name))
            throw new DeltaRequestException(400, "Invalid commit", "'from' and 'to' must be 64-character hex commit checksums.");
        if (name.From == name.To)
            throw new DeltaRequestException(400, "Same commit", "'from' and 'to' are the same commit; a delta needs two different commits.");
        RequireCompleteCommit(repo.Reader, repository, name.To, "to");
        if (name.From is { } f)
            RequireCompleteCommit(repo.Reader, repository, f, "from");
        return (repo, name);
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
        {
            throw new DeltaRequestException(422, "Incomplete commit",
                $"The '{role}' commit {commit} lacks {walk.Missing.Count} object(s) (first: {walk.Missing[0]}); push it completely first.");
        }
    }

    private static DeltaStats? ReadPublished(Repository repo, DeltaName name)
    {
        if (!repo.IsPublished(name))
            return null;
        if (repo.ReadDeltaFile(name, StatsFile) is { } statsBytes)
        {
            try
            {
                var stats = JsonSerializer.Deserialize<DeltaStats>(statsBytes, Json);
                // Stats written before fallbackUncompressedBytes existed: take it from the superblock.
                if (stats is { Fallbacks: > 0, FallbackUncompressedBytes: 0 } && TryReadSizes(repo, name) is { } old)
                    stats = stats with { FallbackUncompressedBytes = old.FallbackUncompressedBytes };
                if (stats is not null)
                    return stats with { Repository = repo.Name };
            }
            catch (JsonException)
            {
            }
        }
        // A delta made by another tool (e.g. `ostree static-delta generate`): report what its superblock declares.
        DateTimeOffset written;
        long superblockSize;
        using (var sb = repo.OpenDeltaFile(name, "superblock"))
        {
            if (sb is null)
                return null;
            (written, superblockSize) = (sb.LastModified, sb.Length);
        }
        if (TryReadSizes(repo, name) is { } sizes)
        {
            return new DeltaStats(repo.Name, name.From?.ToString(), name.To.ToString(), sizes.Parts, sizes.PartBytes, sizes.PartUncompressedBytes,
                sizes.Fallbacks, sizes.FallbackBytes, superblockSize, 0, "unknown", written, sizes.FallbackUncompressedBytes);
        }

        var parts = 0;
        long compressed = 0;
        while (repo.OpenDeltaFile(name, parts.ToString(System.Globalization.CultureInfo.InvariantCulture)) is { } part)
        {
            using (part)
                compressed += part.Length;
            parts++;
        }
        return new DeltaStats(repo.Name, name.From?.ToString(), name.To.ToString(), parts, compressed, 0, 0, 0, superblockSize, 0, "unknown", written);
    }

    private static DeltaSizes? TryReadSizes(Repository repo, DeltaName name)
    {
        try
        {
            return repo.ReadDeltaFile(name, "superblock") is { } bytes ? DeltaSizes.FromSuperblock(bytes) : null;
        }
        catch (Exception e) when (e is InvalidDataException or IOException or FormatException or InvalidOperationException or ArgumentException or IndexOutOfRangeException)
        {
            return null;
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
