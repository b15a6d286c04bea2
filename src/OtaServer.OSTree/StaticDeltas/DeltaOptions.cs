namespace OtaServer.OSTree.StaticDeltas;

/// <summary>
/// Settings of <see cref="DeltaCompiler"/>. The defaults follow <c>ostree static-delta generate</c>
/// (32 MB parts, 4 MB fallback threshold, 128 MB bsdiff limit, bsdiff enabled) except for the xz
/// preset and threading, chosen to stay within ostree's memory while using every core.
/// </summary>
public sealed record DeltaOptions
{
    /// <summary>Start a new part once a part's payload would pass this many bytes (ostree's <c>--max-chunk-size</c>, decimal MB).</summary>
    public long MaxPartSize { get; init; } = 32_000_000;

    /// <summary>
    /// New regular files whose canonical stream (header + content) is larger than this are not put in
    /// parts; the client fetches their loose <c>.filez</c> instead. 0 = no fallbacks (a self-contained delta).
    /// </summary>
    public long MinFallbackSize { get; init; } = 4_000_000;

    /// <summary>bsdiff is tried only when old size + new size is at most this many bytes.</summary>
    public long MaxBsdiffSize { get; init; } = 128_000_000;

    public bool EnableBsdiff { get; init; } = true;

    public bool EnableRollsum { get; init; } = true;

    /// <summary>
    /// liblzma preset for the parts (0–9). 6 (8 MiB dictionary, ~94 MiB encoder memory) compresses
    /// parts of ≤ 32 MB almost as well as ostree's 8 (~370 MiB) and lets two parts compress at once.
    /// </summary>
    public int XzPreset { get; init; } = 6;

    /// <summary>
    /// LZMA2 <c>nice_len</c> (0 = the preset's, 64 at preset 6). 48 with <see cref="XzDepth"/> 16 takes
    /// ~10 % less xz CPU than plain preset 6 for ~0.5 % larger parts (measured on a Debian upgrade).
    /// Single-block parts only (ignored with <see cref="XzBlockSize"/>).
    /// </summary>
    public int XzNiceLength { get; init; } = 48;

    /// <summary>LZMA2 match-finder <c>depth</c> (0 = the preset's automatic value).</summary>
    public int XzDepth { get; init; } = 16;

    /// <summary>
    /// 0 (default): each part is one xz block compressed by one thread (parts compress in parallel).
    /// &gt; 0: parts use liblzma's multi-threaded encoder with blocks of this many bytes, so one big part
    /// also uses several cores (each block restarts the dictionary: slightly larger output). The bytes
    /// depend on this value, never on <see cref="Threads"/>.
    /// </summary>
    public long XzBlockSize { get; init; }

    /// <summary>
    /// Parts filled and compressed at the same time (runs of objects alternate between them), so that
    /// xz, the bulk of the work, uses that many cores. Changes the bytes (unlike <see cref="Threads"/>).
    /// </summary>
    public int ParallelParts { get; init; } = 2;

    /// <summary>Worker threads for reading, diffing and compressing (bounded; at least 1).</summary>
    public int Threads { get; init; } = Environment.ProcessorCount;

    /// <summary>
    /// The superblock's timestamp. Null = the target commit's timestamp, so that regenerating a delta
    /// gives the same bytes (ostree uses "now").
    /// </summary>
    public DateTimeOffset? Timestamp { get; init; }

    public static DeltaOptions Default { get; } = new();

    internal void Validate()
    {
        if (MaxPartSize <= 0)
            throw new ArgumentOutOfRangeException(nameof(MaxPartSize), MaxPartSize, "The maximum part size must be positive.");
        if (MinFallbackSize < 0)
            throw new ArgumentOutOfRangeException(nameof(MinFallbackSize), MinFallbackSize, "The fallback threshold must be 0 (no fallbacks) or positive.");
        if (MaxBsdiffSize < 0)
            throw new ArgumentOutOfRangeException(nameof(MaxBsdiffSize), MaxBsdiffSize, "The bsdiff size limit must not be negative.");
        if (ParallelParts is < 1 or > 64)
            throw new ArgumentOutOfRangeException(nameof(ParallelParts), ParallelParts, "ParallelParts must be between 1 and 64.");
        if (XzNiceLength is < 0 or > 273 || (XzNiceLength is > 0 and < 2))
            throw new ArgumentOutOfRangeException(nameof(XzNiceLength), XzNiceLength, "nice_len must be 0 (preset default) or 2–273.");
        if (XzDepth < 0)
            throw new ArgumentOutOfRangeException(nameof(XzDepth), XzDepth, "The match-finder depth must be 0 (automatic) or positive.");
        if (XzBlockSize < 0)
            throw new ArgumentOutOfRangeException(nameof(XzBlockSize), XzBlockSize, "The xz block size must be 0 (one block per part) or positive.");
        if (XzPreset is < 0 or > 9)
            throw new ArgumentOutOfRangeException(nameof(XzPreset), XzPreset, "The xz preset must be between 0 and 9.");
    }
}

/// <summary>How a new object reached the delta.</summary>
public enum DeltaStrategy
{
    /// <summary>Metadata object (dirtree/dirmeta) stored literally with <c>S</c>.</summary>
    Metadata,

    /// <summary>Content object stored literally with <c>S</c>.</summary>
    Literal,

    /// <summary>Content rebuilt from a similar old file by chunk reuse (<c>o/w/r/R/c</c>).</summary>
    Rollsum,

    /// <summary>Content rebuilt by a bsdiff patch against a similar old file (<c>r/o/B/c/R</c>).</summary>
    Bsdiff,

    /// <summary>Large regular file left out of the parts; the client fetches its loose <c>.filez</c>.</summary>
    Fallback,
}

/// <summary>What <see cref="DeltaCompiler.GenerateAsync"/> wrote.</summary>
public sealed record DeltaResult
{
    /// <summary>The delta's folder relative to the repository root, e.g. <c>deltas/OS/qC3o…-SbR2…</c> (<see cref="DeltaName.RelativeDirectory"/>).</summary>
    public required string RelativePath { get; init; }

    public required Checksum? From { get; init; }

    public required Checksum To { get; init; }

    /// <summary>SHA-256 of the superblock file: the digest the summary / delta index lists.</summary>
    public required Checksum SuperblockChecksum { get; init; }

    public required long SuperblockSize { get; init; }

    public required int Parts { get; init; }

    /// <summary>Sum of the part file sizes (what a device downloads for the parts).</summary>
    public required long CompressedBytes { get; init; }

    /// <summary>Sum of the parts' <c>usize</c> (object sizes as the client accounts them).</summary>
    public required long UncompressedBytes { get; init; }

    /// <summary>Sum of the part payloads before xz.</summary>
    public required long PayloadBytes { get; init; }

    public required int FallbackCount { get; init; }

    /// <summary>Sum of the fallback objects' <c>.filez</c> sizes (downloaded loose).</summary>
    public required long FallbackBytes { get; init; }

    /// <summary>Sum of the fallback objects' uncompressed sizes (what the client writes for them).</summary>
    public required long FallbackUncompressedBytes { get; init; }

    public required int MetadataCount { get; init; }

    public required int LiteralCount { get; init; }

    public required int RollsumCount { get; init; }

    public required int BsdiffCount { get; init; }

    public required TimeSpan Elapsed { get; init; }

    public required string GeneratorVersion { get; init; }

    /// <summary>
    /// What a device downloads besides the superblock: parts + fallback <c>.filez</c>; <c>ostree static-delta show</c>'s "Total Size".
    /// </summary>
    public long DownloadBytes => CompressedBytes + FallbackBytes;

    /// <summary>
    /// What a device must be able to write: the parts' uncompressed objects + the fallback objects;
    /// <c>ostree static-delta show</c>'s "Total Uncompressed Size".
    /// </summary>
    public long RequiredBytes => UncompressedBytes + FallbackUncompressedBytes;
}
