using System.ComponentModel.DataAnnotations;

namespace OtaServer.Serving;

/// <summary>
/// The <c>OtaServer:Serving</c> configuration section (env form: <c>OtaServer__Serving__Key</c>).
/// Tunes the static file origin under <c>/repos/{repo}/</c> and the 2022.7 commitmeta hold (spec §7.6).
/// </summary>
public sealed class ServingOptions
{
    public const string SectionName = "OtaServer:Serving";

    /// <summary>
    /// Hold <c>objects/…/&lt;to&gt;.commitmeta</c> while the same client (remote address + User-Agent)
    /// is still downloading the parts of a static delta to <c>to</c>. Works around the duplicate
    /// download of libostree 2022.7 (fixed upstream in 2023.7). Never delays ordinary object pulls.
    /// </summary>
    public bool HoldCommitMetaDuringDeltas { get; set; } = true;

    /// <summary>After the client has received every part, keep holding this long (decompression and application).</summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:10:00")]
    public TimeSpan CommitMetaGrace { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// The client applies parts after receiving them (xz decompression, bspatch, writes): after the last part
    /// the hold continues for <see cref="CommitMetaGrace"/> plus the delta's part bytes at this rate
    /// (bytes of compressed part data per second). Measured on the Debian rootfs pair: 1 s of grace alone
    /// let the 2022.7 client refetch 923 objects while it still applied an 8 MB part.
    /// </summary>
    [Range(1, long.MaxValue)]
    public long CommitMetaApplyBytesPerSecond { get; set; } = 1_000_000;

    /// <summary>
    /// Never hold longer than this after the superblock was fetched. Keep it under the client's
    /// stall limits (libcurl low-speed abort): a transport error fails a pull, a 404 does not.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "01:00:00")]
    public TimeSpan CommitMetaTimeout { get; set; } = TimeSpan.FromSeconds(25);

    /// <summary>
    /// Release when no part of the delta has been in flight for this long: the client skips parts
    /// whose objects it already has, so those are never requested.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "01:00:00")]
    public TimeSpan CommitMetaIdleRelease { get; set; } = TimeSpan.FromSeconds(3);

    /// <summary>At most this many (client, delta) downloads are tracked at once; beyond that nothing is held.</summary>
    [Range(1, 1_000_000)]
    public int MaxTrackedDeltaDownloads { get; set; } = 10_000;

    /// <summary>At most this many content hashes (ETags of deltas and large mutable files) are cached.</summary>
    [Range(16, 10_000_000)]
    public int MaxCachedHashes { get; set; } = 50_000;

    /// <summary>Memory for small immutable objects kept in RAM (0 disables the cache).</summary>
    [Range(0, long.MaxValue)]
    public long SmallObjectCacheBytes { get; set; } = 64L * 1024 * 1024;

    /// <summary>Objects up to this size are kept in the small-object cache.</summary>
    [Range(0, 1024 * 1024)]
    public int SmallObjectMaxSize { get; set; } = 16 * 1024;

    /// <summary>
    /// A cached small object is checked against the disk at most this often: an object pruned from the repository
    /// is still served (valid bytes, by its content hash) for up to this long. Zero checks on every request.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "01:00:00")]
    public TimeSpan SmallObjectRecheckInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>A Range header with more ranges than this is ignored (the whole file is sent).</summary>
    [Range(1, 1000)]
    public int MaxRanges { get; set; } = 64;
}
