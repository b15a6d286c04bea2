using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.Extensions.Options;
using OtaServer.Store;

namespace OtaServer.Jobs;

/// <summary>
/// Runs queued jobs: a bounded pool of <see cref="JobsOptions.Concurrency"/> loops, a timeout per job,
/// cancellation on request. Jobs that were Running when the last process stopped are re-queued at start.
/// Each job's failure is caught and recorded; the worker goes on with the next job.
/// </summary>
internal sealed partial class JobWorker(
    IJobStore store,
    JobSignals signals,
    IEnumerable<IJobHandler> handlers,
    IOptions<JobsOptions> options,
    TimeProvider time,
    ILogger<JobWorker> logger) : BackgroundService
{
    private readonly ConcurrentDictionary<string, RunningJob> _running = new(StringComparer.Ordinal);
    private readonly Dictionary<string, IJobHandler> _handlers = handlers
        .GroupBy(h => h.Kind, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Last(), StringComparer.Ordinal);

    private sealed class RunningJob(CancellationTokenSource cts)
    {
        public CancellationTokenSource Cts { get; } = cts;
        public volatile bool CancelRequested;
    }

    /// <summary>Asks a job running in this process to stop. False when it is not running here.</summary>
    public bool RequestCancel(string jobId)
    {
        if (!_running.TryGetValue(jobId, out var job))
            return false;
        job.CancelRequested = true;
        try { job.Cts.Cancel(); }
        catch (ObjectDisposedException) { return false; }
        return true;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await Task.Yield();
        try
        {
            foreach (var id in await store.RequeueRunningAsync(stoppingToken))
            {
                new JobLog(id, store, signals, time).Write("Server restarted while this job was running: queued again");
                LogRequeued(logger, id);
            }
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            LogStoreError(logger, e);
        }
        var loops = Enumerable.Range(0, options.Value.Concurrency).Select(_ => LoopAsync(stoppingToken));
        await Task.WhenAll(loops);
    }

    private async Task LoopAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            var wake = signals.NextWork;
            JobRecord? job = null;
            try
            {
                job = await store.ClaimNextAsync(time.GetUtcNow(), stoppingToken);
            }
            catch (Exception e) when (!stoppingToken.IsCancellationRequested)
            {
                LogStoreError(logger, e);
            }
            if (job is not null)
            {
                signals.Changed(job.Id);
                await RunAsync(job, stoppingToken);
                continue;
            }
            try
            {
                await Task.WhenAny(wake, Task.Delay(options.Value.PollInterval, time, stoppingToken));
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private async Task RunAsync(JobRecord job, CancellationToken stoppingToken)
    {
        var log = new JobLog(job.Id, store, signals, time);
        var timeout = options.Value.Timeout;
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        var running = new RunningJob(cts);
        _running[job.Id] = running;
        JobStatus status;
        string? error = null;
        var started = time.GetTimestamp();
        try
        {
            if (!_handlers.TryGetValue(job.Kind, out var handler))
                throw new InvalidOperationException($"No handler for job kind '{job.Kind}' in this server build.");
            log.Write($"Started {job.Kind} job (attempt {job.Attempts}, timeout {timeout})");
            cts.CancelAfter(timeout);
            using var payload = JsonDocument.Parse(job.PayloadJson);
            await handler.RunAsync(new JobContext(job.Id, job.Kind, payload.RootElement.Clone(), log), cts.Token);
            status = JobStatus.Succeeded;
            log.Write($"Succeeded in {time.GetElapsedTime(started).TotalSeconds:0.0} s");
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Left Running on purpose: the next start re-queues it.
            TryWrite(log, "Interrupted by server shutdown: the job runs again at the next start");
            LogInterrupted(logger, job.Id);
            _running.TryRemove(job.Id, out _);
            return;
        }
        catch (OperationCanceledException) when (running.CancelRequested)
        {
            status = JobStatus.Cancelled;
            error = "Cancelled on request";
            TryWrite(log, error);
        }
        catch (OperationCanceledException) when (cts.IsCancellationRequested)
        {
            status = JobStatus.Failed;
            error = $"Timed out after {timeout} (OtaServer:Jobs:Timeout)";
            TryWrite(log, "Failed: " + error);
        }
        catch (Exception e)
        {
            status = JobStatus.Failed;
            error = e.Message;
            TryWrite(log, "Failed: " + e.Message);
            LogFailed(logger, job.Id, job.Kind, e);
        }
        _running.TryRemove(job.Id, out _);
        try
        {
            await store.FinishAsync(job.Id, status, error, time.GetUtcNow(), CancellationToken.None);
        }
        catch (Exception e)
        {
            LogStoreError(logger, e);
        }
        signals.Changed(job.Id);
        LogFinished(logger, job.Id, job.Kind, status);
    }

    private void TryWrite(JobLog log, string line)
    {
        try { log.Write(line); }
        catch (Exception e) { LogStoreError(logger, e); }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId} was running when the server stopped: queued again")]
    private static partial void LogRequeued(ILogger logger, string jobId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} interrupted by shutdown; it resumes at the next start")]
    private static partial void LogInterrupted(ILogger logger, string jobId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId} ({Kind}) failed")]
    private static partial void LogFailed(ILogger logger, string jobId, string kind, Exception exception);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} ({Kind}) finished: {Status}")]
    private static partial void LogFinished(ILogger logger, string jobId, string kind, JobStatus status);

    [LoggerMessage(Level = LogLevel.Error, Message = "Job store error")]
    private static partial void LogStoreError(ILogger logger, Exception exception);
}
