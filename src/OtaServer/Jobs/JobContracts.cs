using System.Text.Json;
using System.Text.Json.Serialization;

using OtaServer.Store;

namespace OtaServer.Jobs;

/// <summary>The log of one job: timestamped lines kept with the job in the store.</summary>
public interface IJobLog
{
    /// <summary>Appends one line (the log adds the timestamp).</summary>
    void Write(string line);
}

/// <summary>What a handler gets when its job runs.</summary>
public sealed record JobContext(string Id, string Kind, JsonElement Payload, IJobLog Log);

/// <summary>Runs jobs of one kind (for example <c>static-deltas</c>). Registered in DI; the worker picks it by <see cref="Kind"/>.</summary>
public interface IJobHandler
{
    string Kind { get; }

    /// <summary>Does the work. Throwing marks the job Failed with the exception's message in its log.</summary>
    Task RunAsync(JobContext job, CancellationToken cancellationToken);
}

public sealed record JobInfo(
    string Id,
    string Kind,
    JobStatus Status,
    DateTimeOffset CreatedAt,
    DateTimeOffset? StartedAt,
    DateTimeOffset? FinishedAt,
    string? Error);

/// <summary>The persistent job queue (lives in the store).</summary>
public interface IJobQueue
{
    /// <summary>
    /// Queues a job. When <paramref name="dedupKey"/> is given and a Pending or Running job has the
    /// same key, that job is returned instead (<c>Created = false</c>).
    /// </summary>
    Task<(JobInfo Job, bool Created)> EnqueueAsync(string kind, object payload, string? dedupKey, CancellationToken cancellationToken);

    Task<JobInfo?> GetAsync(string id, CancellationToken cancellationToken);
}

internal static class JobRecordMapping
{
    /// <summary>The API view of a stored job.</summary>
    public static JobInfo ToInfo(this JobRecord job) => new(job.Id, job.Kind, job.Status, job.CreatedAt, job.StartedAt, job.FinishedAt, job.Error);
}
