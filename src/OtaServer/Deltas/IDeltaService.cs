using OtaServer.Jobs;

namespace OtaServer.Deltas;

/// <summary>Statistics of one published static delta (also served as JSON in the repository tree).</summary>
public sealed record DeltaStats(
    string Repository,
    string? From,
    string To,
    int Parts,
    long CompressedBytes,
    long UncompressedBytes,
    int Fallbacks,
    long FallbackBytes,
    long SuperblockBytes,
    double GenerationSeconds,
    string GeneratorVersion,
    DateTimeOffset CreatedAt)
{
    /// <summary>What a device downloads for this delta: superblock + parts + fallbacks.</summary>
    public long DownloadBytes => SuperblockBytes + CompressedBytes + FallbackBytes;
}

/// <summary>Generation, lookup and removal of static deltas; <c>from</c>/<c>to</c> are 64-hex commit checksums (<c>from</c> null = from scratch).</summary>
public interface IDeltaService
{
    DeltaStats? Find(string repository, string? from, string to);

    IReadOnlyList<DeltaStats> List(string repository);

    /// <summary>Generates and publishes the delta unless it exists (then returns its stats). Writes progress to <paramref name="log"/>.</summary>
    Task<DeltaStats> GenerateAsync(string repository, string? from, string to, IJobLog log, CancellationToken cancellationToken);
}
