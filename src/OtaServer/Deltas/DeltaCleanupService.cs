using Microsoft.Extensions.Options;

namespace OtaServer.Deltas;

/// <summary>Periodically removes the files of deleted deltas once their grace period is over.</summary>
internal sealed partial class DeltaCleanupService(DeltaService deltas, IOptions<DeltasOptions> options, TimeProvider time,
    ILogger<DeltaCleanupService> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.CleanupInterval, time);
        do
        {
            try
            {
                var removed = await deltas.RemoveExpiredAsync(stoppingToken);
                if (removed > 0)
                    LogRemoved(logger, removed);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                LogFailed(logger, e);
            }
        }
        while (await NextTickAsync(timer, stoppingToken));
    }

    /// <summary>False when the host stops (also while it is still starting, e.g. the port was in use): no OperationCanceledException for the host to report as a failure.</summary>
    private static async Task<bool> NextTickAsync(PeriodicTimer timer, CancellationToken stoppingToken)
    {
        try
        {
            return await timer.WaitForNextTickAsync(stoppingToken);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            return false;
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Removed the files of {Count} deleted delta(s)")]
    private static partial void LogRemoved(ILogger logger, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Removing deleted deltas failed; will retry")]
    private static partial void LogFailed(ILogger logger, Exception e);
}
