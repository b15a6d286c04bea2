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
    DateTimeOffset CreatedAt,
    long FallbackUncompressedBytes = 0)
{
    /// <summary>
    /// What a device downloads for this delta besides its superblock: parts + fallback objects
    /// (<c>ostree static-delta show</c>: "Total Size").
    /// </summary>
    public long DownloadBytes => CompressedBytes + FallbackBytes;

    /// <summary>
    /// The bytes a device must be able to write: the parts' uncompressed objects + the fallback objects
    /// (<c>ostree static-delta show</c>: "Total Uncompressed Size"). Check free space against this.
    /// </summary>
    public long RequiredBytes => UncompressedBytes + FallbackUncompressedBytes;
}

/// <summary>Generation, lookup and removal of static deltas; <c>from</c>/<c>to</c> are 64-hex commit checksums (<c>from</c> null = from scratch).</summary>
public interface IDeltaService
{
    DeltaStats? Find(string repository, string? from, string to);

    IReadOnlyList<DeltaStats> List(string repository);

    /// <summary>Generates and publishes the delta unless it exists (then returns its stats). Writes progress to <paramref name="log"/>.</summary>
    Task<DeltaStats> GenerateAsync(string repository, string? from, string to, IJobLog log, CancellationToken cancellationToken);
}
