using System.Collections.Concurrent;
using Microsoft.Extensions.Options;

namespace OtaServer.Serving;

/// <summary>Why a held <c>.commitmeta</c> response was let go.</summary>
internal enum HoldRelease
{
    /// <summary>No delta download of that target by that client: not held at all.</summary>
    NotHeld,
    /// <summary>Every part was received, plus the grace period.</summary>
    AllPartsReceived,
    /// <summary>No part was in flight for the idle period (the client skipped the remaining parts).</summary>
    Idle,
    /// <summary>The overall timeout since the superblock fetch passed.</summary>
    Timeout,
}

/// <summary>Counters of the commitmeta hold, for tests and diagnostics.</summary>
internal readonly record struct DeltaHoldStatistics(long Tracked, long Held, long ReleasedComplete, long ReleasedIdle, long ReleasedTimeout);

/// <summary>
/// Works around the libostree 2022.7 duplicate download (spec §7.6): after a client fetched a delta
/// superblock, its request for <c>objects/&lt;to&gt;.commitmeta</c> is held until the same client
/// (remote address + User-Agent) has received every part file of that delta (plus a grace period),
/// it has had no part in flight for the idle period, or the timeout passed. Clients that fetched no
/// superblock are never held. At most <see cref="ServingOptions.MaxTrackedDeltaDownloads"/> downloads
/// are tracked; expired ones are swept.
/// </summary>
internal sealed partial class DeltaDownloadTracker
{
    private static readonly TimeSpan SweepInterval = TimeSpan.FromSeconds(10);

    private readonly ConcurrentDictionary<DownloadKey, Download> _downloads = new();
    private readonly TimeProvider _time;
    private readonly ILogger<DeltaDownloadTracker> _logger;
    private readonly TimeSpan _grace;
    private readonly long _applyBytesPerSecond;
    private readonly TimeSpan _timeout;
    private readonly TimeSpan _idle;
    private readonly int _max;
    private long _lastSweep;
    private int _warnedFull;
    private long _tracked, _held, _releasedComplete, _releasedIdle, _releasedTimeout;

    public DeltaDownloadTracker(IOptions<ServingOptions> options, TimeProvider time, ILogger<DeltaDownloadTracker> logger)
    {
        var o = options.Value;
        Enabled = o.HoldCommitMetaDuringDeltas;
        _grace = o.CommitMetaGrace;
        _applyBytesPerSecond = Math.Max(1, o.CommitMetaApplyBytesPerSecond);
        _timeout = o.CommitMetaTimeout;
        _idle = o.CommitMetaIdleRelease;
        _max = o.MaxTrackedDeltaDownloads;
        _time = time;
        _logger = logger;
        _lastSweep = time.GetTimestamp();
    }

    public bool Enabled { get; }

    public int Count => _downloads.Count;

    public DeltaHoldStatistics Statistics => new(
        Interlocked.Read(ref _tracked), Interlocked.Read(ref _held), Interlocked.Read(ref _releasedComplete),
        Interlocked.Read(ref _releasedIdle), Interlocked.Read(ref _releasedTimeout));

    /// <summary>The identity of a client: remote address and User-Agent (devices behind one NAT with the same agent share it).</summary>
    public static string ClientKey(HttpContext context) =>
        string.Concat(context.Connection.RemoteIpAddress?.ToString(), "|", context.Request.Headers.UserAgent.ToString());

    /// <summary>The client is about to receive the superblock of a delta to <paramref name="target"/> with <paramref name="partCount"/> part files.</summary>
    public void SuperblockServed(string client, string target, int partCount, long partBytes = 0)
    {
        var applyTime = TimeSpan.FromSeconds((double)partBytes / _applyBytesPerSecond);
        var now = _time.GetTimestamp();
        SweepIfDue(now);
        var key = new DownloadKey(client, target);
        if (_downloads.TryGetValue(key, out var existing))
        {
            existing.Restart(partCount, applyTime, now); // a retry of the same pull: start counting again
            return;
        }
        if (_downloads.Count >= _max)
        {
            if (Interlocked.Exchange(ref _warnedFull, 1) == 0)
                LogTrackingFull(_logger, _max);
            return;
        }
        _downloads[key] = new Download(partCount, applyTime, now);
        Interlocked.Increment(ref _tracked);
    }

    /// <summary>A part request of a tracked download starts; returns the download to pass to <see cref="PartFinished"/>, or null.</summary>
    public Download? PartStarting(string client, string target)
    {
        if (!_downloads.TryGetValue(new DownloadKey(client, target), out var download))
            return null;
        download.PartStarting(_time.GetTimestamp());
        return download;
    }

    public void PartFinished(Download download, int index, bool complete) =>
        download.PartFinished(index, complete, _time.GetTimestamp());

    /// <summary>Waits, if this client is downloading a delta to <paramref name="target"/>, until it may have the commitmeta.</summary>
    public async Task<HoldRelease> HoldCommitMetaAsync(string client, string target, CancellationToken cancellationToken)
    {
        var key = new DownloadKey(client, target);
        if (!_downloads.TryGetValue(key, out var download))
            return HoldRelease.NotHeld;
        Interlocked.Increment(ref _held);
        var began = _time.GetTimestamp();
        HoldRelease release;
        while (true)
        {
            var (decision, wait, changed) = download.Evaluate(_time.GetTimestamp(), _grace, _idle, _timeout, _time);
            if (decision is { } done)
            {
                release = done;
                break;
            }
            using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var delay = Task.Delay(wait, _time, cts.Token);
            await Task.WhenAny(changed, delay).ConfigureAwait(false);
            await cts.CancelAsync().ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();
        }
        _downloads.TryRemove(new KeyValuePair<DownloadKey, Download>(key, download));
        switch (release)
        {
            case HoldRelease.AllPartsReceived:
                Interlocked.Increment(ref _releasedComplete);
                break;
            case HoldRelease.Idle:
                Interlocked.Increment(ref _releasedIdle);
                break;
            default:
                Interlocked.Increment(ref _releasedTimeout);
                break;
        }
        LogReleased(_logger, target, client, _time.GetElapsedTime(began).TotalMilliseconds, release);
        return release;
    }

    private void SweepIfDue(long now)
    {
        var last = Interlocked.Read(ref _lastSweep);
        if (_time.GetElapsedTime(last, now) < SweepInterval && _downloads.Count < _max)
            return;
        if (Interlocked.CompareExchange(ref _lastSweep, now, last) != last)
            return;
        Volatile.Write(ref _warnedFull, 0);
        var expiry = _timeout + _idle + _grace;
        foreach (var (key, download) in _downloads)
        {
            if (download.IsExpired(now, expiry, _time))
                _downloads.TryRemove(new KeyValuePair<DownloadKey, Download>(key, download));
        }
    }

    private readonly record struct DownloadKey(string Client, string Target);

    /// <summary>One client's download of one delta.</summary>
    internal sealed class Download
    {
        private readonly Lock _gate = new();
        private int _partCount;
        private bool[] _received = [];
        private int _receivedCount;
        private int _inFlight;
        private long _startedAt, _lastActivityAt, _allReceivedAt;
        private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Download(int partCount, TimeSpan applyTime, long now) => Restart(partCount, applyTime, now);

        /// <summary>Estimated time the client needs to apply the parts after receiving them.</summary>
        private TimeSpan _applyTime;

        public void Restart(int partCount, TimeSpan applyTime, long now)
        {
            lock (_gate)
            {
                _partCount = partCount;
                _applyTime = applyTime;
                _received = new bool[partCount];
                _receivedCount = 0;
                _startedAt = _lastActivityAt = _allReceivedAt = now;
                PulseLocked();
            }
        }

        public void PartStarting(long now)
        {
            lock (_gate)
            {
                _inFlight++;
                _lastActivityAt = now;
                PulseLocked();
            }
        }

        public void PartFinished(int index, bool complete, long now)
        {
            lock (_gate)
            {
                _inFlight = Math.Max(0, _inFlight - 1);
                _lastActivityAt = now;
                if (complete && index < _partCount && !_received[index])
                {
                    _received[index] = true;
                    if (++_receivedCount == _partCount)
                        _allReceivedAt = now;
                }
                PulseLocked();
            }
        }

        public (HoldRelease? Decision, TimeSpan Wait, Task Changed) Evaluate(long now, TimeSpan grace, TimeSpan idle, TimeSpan timeout, TimeProvider time)
        {
            lock (_gate)
            {
                var sinceStart = time.GetElapsedTime(_startedAt, now);
                if (sinceStart >= timeout)
                    return (HoldRelease.Timeout, default, Task.CompletedTask);
                var wait = timeout - sinceStart;
                if (_receivedCount >= _partCount)
                {
                    var since = time.GetElapsedTime(_allReceivedAt, now);
                    var hold = grace + _applyTime;
                    if (since >= hold)
                        return (HoldRelease.AllPartsReceived, default, Task.CompletedTask);
                    wait = Min(wait, hold - since);
                }
                else if (_inFlight == 0)
                {
                    var since = time.GetElapsedTime(_lastActivityAt, now);
                    if (since >= idle)
                        return (HoldRelease.Idle, default, Task.CompletedTask);
                    wait = Min(wait, idle - since);
                }
                return (null, wait, _changed.Task);
            }
        }

        public bool IsExpired(long now, TimeSpan expiry, TimeProvider time)
        {
            lock (_gate)
                return time.GetElapsedTime(_lastActivityAt, now) > expiry && time.GetElapsedTime(_startedAt, now) > expiry;
        }

        private void PulseLocked()
        {
            var previous = _changed;
            _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            previous.TrySetResult();
        }

        private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Held commitmeta of {Target} for {Client} {ElapsedMs:0} ms until {Release} (2022.7 duplicate-download workaround)")]
    private static partial void LogReleased(ILogger logger, string target, string client, double elapsedMs, HoldRelease release);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Already tracking {Max} delta downloads; not holding commitmeta for more (raise OtaServer:Serving:MaxTrackedDeltaDownloads)")]
    private static partial void LogTrackingFull(ILogger logger, int max);
}
