using System.Text.Json;
using OtaServer.Store;

namespace OtaServer.Jobs;

internal sealed class JobQueue(IJobStore store, JobSignals signals, TimeProvider time) : IJobQueue
{
    public static readonly JsonSerializerOptions PayloadJson = new(JsonSerializerDefaults.Web);

    public async Task<(JobInfo Job, bool Created)> EnqueueAsync(string kind, object payload, string? dedupKey, CancellationToken cancellationToken)
    {
        var json = payload as string ?? JsonSerializer.Serialize(payload, payload.GetType(), PayloadJson);
        var (job, created) = await store.EnqueueAsync(Guid.CreateVersion7().ToString("N"), kind, json, dedupKey, time.GetUtcNow(), cancellationToken);
        if (created)
            signals.WorkQueued();
        return (job.ToInfo(), created);
    }

    public async Task<JobInfo?> GetAsync(string id, CancellationToken cancellationToken) =>
        (await store.GetAsync(id, cancellationToken))?.ToInfo();
}
