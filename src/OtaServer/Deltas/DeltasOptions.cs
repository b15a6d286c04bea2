namespace OtaServer.Deltas;

/// <summary>The <c>OtaServer:Deltas</c> section: generator settings and deletion grace.</summary>
public sealed class DeltasOptions
{
    public const string SectionName = "OtaServer:Deltas";

    /// <summary>Parts are split at this size (bytes), as ostree's <c>--max-chunk-size</c> (32 MB).</summary>
    public long MaxPartSize { get; set; } = 32_000_000;

    /// <summary>Regular files larger than this (bytes) are fallbacks fetched loose; 0 = self-contained deltas.</summary>
    public long MinFallbackSize { get; set; } = 4_000_000;

    /// <summary>bsdiff is tried only when old + new size is at most this many bytes.</summary>
    public long MaxBsdiffSize { get; set; } = 128_000_000;

    public bool EnableBsdiff { get; set; } = true;

    public bool EnableRollsum { get; set; } = true;

    /// <summary>xz preset of the part payloads (0–9).</summary>
    public int XzPreset { get; set; } = 6;

    /// <summary>Threads used by one generation (0 = all cores).</summary>
    public int Threads { get; set; }

    /// <summary>How long a deleted delta's files stay served after it left the summary (clients may be mid-download).</summary>
    public TimeSpan DeleteGracePeriod { get; set; } = TimeSpan.FromHours(1);

    /// <summary>How often deleted deltas past their grace period are removed.</summary>
    public TimeSpan CleanupInterval { get; set; } = TimeSpan.FromMinutes(5);
}
