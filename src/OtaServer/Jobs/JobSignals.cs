using System.Collections.Concurrent;

namespace OtaServer.Jobs;

/// <summary>In-process wake-ups: "work was queued" for the workers, "this job changed" for log followers.</summary>
internal sealed class JobSignals
{
    private readonly ConcurrentDictionary<string, TaskCompletionSource> _jobs = new(StringComparer.Ordinal);
    private TaskCompletionSource _work = New();

    private static TaskCompletionSource New() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes at the next <see cref="WorkQueued"/>. Take it before looking for work so no wake-up is lost.</summary>
    public Task NextWork => Volatile.Read(ref _work).Task;

    public void WorkQueued() => Interlocked.Exchange(ref _work, New()).TrySetResult();

    /// <summary>Completes at the next change (log line or status) of the job. Take it before reading.</summary>
    public Task NextChange(string jobId) => _jobs.GetOrAdd(jobId, _ => New()).Task;

    public void Changed(string jobId)
    {
        if (_jobs.TryRemove(jobId, out var tcs))
            tcs.TrySetResult();
    }
}
