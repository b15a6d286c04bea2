using System.Text.Json.Serialization;

namespace OtaServer.Store;

[JsonConverter(typeof(JsonStringEnumConverter<JobStatus>))]
public enum JobStatus { Pending, Running, Succeeded, Failed, Cancelled }

public sealed record JobRecord(
    string Id,
    string Kind,
    string PayloadJson,
    string? DedupKey,
    JobStatus Status,
    int Attempts,
    DateTimeOffset CreatedAt,
    DateTimeOffset? StartedAt,
    DateTimeOffset? FinishedAt,
    string? Error)
{
    public bool IsFinished => Status is JobStatus.Succeeded or JobStatus.Failed or JobStatus.Cancelled;
}

/// <summary>One log line; <see cref="Text"/> holds the timestamp and the trailing newline. Offsets count UTF-8 bytes.</summary>
public sealed record JobLogLine(long Seq, long StartOffset, long EndOffset, string Text);

/// <summary>The persistent job queue and job logs. The only seam the job feature uses (SQLite today).</summary>
public interface IJobStore
{
    /// <summary>Inserts a Pending job unless one with the same dedup key is Pending or Running (then returns it, Created = false).</summary>
    Task<(JobRecord Job, bool Created)> EnqueueAsync(string id, string kind, string payloadJson, string? dedupKey, DateTimeOffset now, CancellationToken cancellationToken);

    Task<JobRecord?> GetAsync(string id, CancellationToken cancellationToken);

    /// <summary>Newest first.</summary>
    Task<IReadOnlyList<JobRecord>> ListAsync(JobStatus? status, int limit, CancellationToken cancellationToken);

    /// <summary>Atomically moves the oldest Pending job to Running (attempts + 1) and returns it.</summary>
    Task<JobRecord?> ClaimNextAsync(DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>Moves every Running job back to Pending (used at start: their worker died with the last process). Returns their ids.</summary>
    Task<IReadOnlyList<string>> RequeueRunningAsync(CancellationToken cancellationToken);

    /// <summary>Sets a final status on a Running job. False when it was not Running.</summary>
    Task<bool> FinishAsync(string id, JobStatus status, string? error, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>Cancels a Pending job. False when it was not Pending.</summary>
    Task<bool> CancelPendingAsync(string id, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>Appends one line (synchronous: handlers log from anywhere).</summary>
    void AppendLog(string jobId, JobLogLine line);

    /// <summary>The last line of the log, or null when it is empty.</summary>
    JobLogLine? GetLastLogLine(string jobId);

    /// <summary>Lines with <c>Seq &gt; afterSeq</c>, in order.</summary>
    Task<IReadOnlyList<JobLogLine>> ReadLogAfterSeqAsync(string jobId, long afterSeq, int max, CancellationToken cancellationToken);

    /// <summary>Lines that end after byte <paramref name="offset"/>, in order.</summary>
    Task<IReadOnlyList<JobLogLine>> ReadLogFromOffsetAsync(string jobId, long offset, int max, CancellationToken cancellationToken);
}
