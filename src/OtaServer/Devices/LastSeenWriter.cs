using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using OtaServer.Store;

namespace OtaServer.Devices;

/// <summary>
/// Batches last-seen-only device updates: check-ins queue them (one entry per device, the newest wins)
/// and never touch other columns, so a batch cannot undo a change written meanwhile;
/// this service writes the queue in one transaction every <see cref="DevicesOptions.LastSeenFlushInterval"/>,
/// and once more at shutdown.
/// </summary>
internal sealed partial class LastSeenWriter(IFleetStore store, IOptions<DevicesOptions> options, TimeProvider time, ILogger<LastSeenWriter> logger)
    : BackgroundService
{
    private const int FlushAt = 5000;
    private readonly ConcurrentDictionary<string, DateTimeOffset> _pending = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _full = new(0, 1);

    public void Enqueue(string device, DateTimeOffset lastSeen)
    {
        _pending[device] = lastSeen;
        if (_pending.Count >= FlushAt && _full.CurrentCount == 0)
        {
            try { _full.Release(); }
            catch (SemaphoreFullException) { }
        }
    }

    public void Forget(string device) => _pending.TryRemove(device, out _);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await Task.WhenAny(_full.WaitAsync(stoppingToken), Task.Delay(options.Value.LastSeenFlushInterval, time, stoppingToken));
            }
            catch (OperationCanceledException)
            {
                break;
            }
            await FlushAsync();
        }
        await FlushAsync();
    }

    /// <summary>Writes what is queued now.</summary>
    public async Task FlushAsync()
    {
        if (_pending.IsEmpty)
            return;
        var batch = new List<KeyValuePair<string, DateTimeOffset>>(_pending.Count);
        foreach (var kv in _pending)
        {
            if (_pending.TryRemove(kv))
                batch.Add(kv);
        }

        try
        {
            await store.TouchDevicesAsync(batch, CancellationToken.None);
        }
        catch (Exception e)
        {
            LogFlushFailed(logger, batch.Count, e);
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Could not write last-seen of {Count} devices")]
    private static partial void LogFlushFailed(ILogger logger, int count, Exception exception);
}
