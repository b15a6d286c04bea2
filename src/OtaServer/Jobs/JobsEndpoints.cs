using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using OtaServer.Auth;
using OtaServer.Http;
using OtaServer.Store;

namespace OtaServer.Jobs;

public sealed record JobSummary(
    string Id,
    string Kind,
    JobStatus Status,
    DateTimeOffset CreatedAt,
    DateTimeOffset? StartedAt,
    DateTimeOffset? FinishedAt,
    double? DurationSeconds,
    int Attempts,
    string? Error,
    string Url,
    string LogUrl);

public sealed record JobDetails(JobSummary Job, IReadOnlyList<string> Log, bool LogTruncated);

/// <summary>HTTP API of the job queue: list, details, cancel, and the log (offset polling or Server-Sent Events).</summary>
internal static class JobsEndpoints
{
    public const string StatusHeader = "X-Job-Status";
    public const string NextOffsetHeader = "X-Next-Offset";
    private const int MaxLines = 2000;

    public static string Url(string id) => "/api/v1/jobs/" + id;

    internal static JobSummary Summary(JobRecord j) => new(
        j.Id, j.Kind, j.Status, j.CreatedAt, j.StartedAt, j.FinishedAt,
        j.StartedAt is { } s && j.FinishedAt is { } f ? (f - s).TotalSeconds : null,
        j.Attempts, j.Error, Url(j.Id), Url(j.Id) + "/log");

    public static void Map(IEndpointRouteBuilder app)
    {
        var g = app.MapGroup("/api/v1/jobs").WithTags("Jobs").RequireAuthorization(Scopes.Admin);
        g.MapGet("", ListAsync).WithName("ListJobs").WithSummary("Jobs, newest first.");
        g.MapGet("{id}", GetAsync).WithName("GetJob").WithSummary("A job: status, timings and its log lines.");
        g.MapPost("{id}/cancel", CancelAsync).WithName("CancelJob").WithSummary("Cancels a pending or running job.");
        g.MapGet("{id}/log", LogAsync).WithName("GetJobLog")
            .WithSummary("The job log from byte ?offset=N (headers X-Job-Status, X-Next-Offset), or Server-Sent Events with Accept: text/event-stream (Last-Event-ID resumes).")
            .Produces<string>(StatusCodes.Status200OK, "text/plain", "text/event-stream")
            .ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status400BadRequest);
    }

    private static async Task<Results<Ok<IReadOnlyList<JobSummary>>, ProblemHttpResult>> ListAsync(
        IJobStore store, string? status, int? limit, CancellationToken ct)
    {
        JobStatus? s = null;
        if (status is not null)
        {
            if (!Enum.TryParse<JobStatus>(status, ignoreCase: true, out var parsed) || !Enum.IsDefined(parsed))
                return Problems.BadRequest($"Unknown job status '{status}'; use one of {string.Join(", ", Enum.GetNames<JobStatus>())}.");
            s = parsed;
        }
        var n = limit ?? 100;
        if (n is < 1 or > 10_000)
            return Problems.BadRequest("limit must be between 1 and 10000.");
        var jobs = await store.ListAsync(s, n, ct);
        return TypedResults.Ok<IReadOnlyList<JobSummary>>([.. jobs.Select(Summary)]);
    }

    private static async Task<Results<Ok<JobDetails>, ProblemHttpResult>> GetAsync(string id, IJobStore store, CancellationToken ct)
    {
        var job = await store.GetAsync(id, ct);
        if (job is null)
            return Problems.JobNotFound(id);
        var lines = await store.ReadLogAfterSeqAsync(id, 0, MaxLines, ct);
        return TypedResults.Ok(new JobDetails(Summary(job), [.. lines.Select(l => l.Text.TrimEnd('\n'))], lines.Count == MaxLines));
    }

    private static async Task<Results<Ok<JobSummary>, Accepted<JobSummary>, ProblemHttpResult>> CancelAsync(
        string id, IJobStore store, JobWorker worker, JobSignals signals, TimeProvider time, CancellationToken ct)
    {
        var job = await store.GetAsync(id, ct);
        if (job is null)
            return Problems.JobNotFound(id);
        if (job.Status == JobStatus.Pending && await store.CancelPendingAsync(id, time.GetUtcNow(), ct))
        {
            new JobLog(id, store, signals, time).Write("Cancelled on request before it started");
            signals.Changed(id);
            return TypedResults.Ok(Summary((await store.GetAsync(id, ct))!));
        }
        job = (await store.GetAsync(id, ct))!;
        if (job.Status == JobStatus.Running)
        {
            if (worker.RequestCancel(id))
                return TypedResults.Accepted(Url(id), Summary(job));
            return Problems.Conflict($"Job {id} is running in another server process; cancel it there.");
        }
        return Problems.Conflict($"Job {id} has already finished ({job.Status}); there is nothing to cancel.");
    }

    private static async Task<IResult> LogAsync(
        string id, long? offset, HttpContext http, IJobStore store, JobSignals signals, IOptions<JobsOptions> options, CancellationToken ct)
    {
        var job = await store.GetAsync(id, ct);
        if (job is null)
            return Problems.JobNotFound(id);
        var accept = http.Request.Headers.Accept.ToString();
        if (accept.Contains("text/event-stream", StringComparison.OrdinalIgnoreCase))
        {
            var lastId = 0L;
            var header = http.Request.Headers["Last-Event-ID"].ToString();
            if (header.Length > 0 && (!long.TryParse(header, NumberStyles.None, CultureInfo.InvariantCulture, out lastId) || lastId < 0))
                return Problems.BadRequest($"Last-Event-ID '{header}' is not a line number sent by this stream.");
            await StreamAsync(http, id, lastId, store, signals, options.Value.KeepAliveInterval, ct);
            return TypedResults.Empty;
        }
        var from = offset ?? 0;
        if (from < 0)
            return Problems.BadRequest("offset must be 0 or more (a byte position from X-Next-Offset).");
        var lines = await store.ReadLogFromOffsetAsync(id, from, MaxLines, ct);
        var body = new MemoryStream();
        var next = from;
        foreach (var line in lines)
        {
            var bytes = Encoding.UTF8.GetBytes(line.Text);
            var skip = (int)Math.Max(0, from - line.StartOffset);
            body.Write(bytes, skip, bytes.Length - skip);
            next = line.EndOffset;
        }
        if (lines.Count == 0)
            next = Math.Min(from, store.GetLastLogLine(id)?.EndOffset ?? 0);
        http.Response.Headers[StatusHeader] = job.Status.ToString();
        http.Response.Headers[NextOffsetHeader] = next.ToString(CultureInfo.InvariantCulture);
        http.Response.Headers.CacheControl = "no-store";
        return TypedResults.Bytes(body.ToArray(), "text/plain; charset=utf-8");
    }

    private static async Task StreamAsync(HttpContext http, string id, long lastId, IJobStore store, JobSignals signals, TimeSpan keepAlive, CancellationToken ct)
    {
        var response = http.Response;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no";
        var writer = new StreamWriter(response.Body, new UTF8Encoding(false), 16 * 1024, leaveOpen: true) { NewLine = "\n" };
        await using (writer)
        {
            try
            {
                await writer.WriteAsync("retry: 1000\n\n");
                while (true)
                {
                    var changed = signals.NextChange(id);
                    var job = await store.GetAsync(id, ct);
                    IReadOnlyList<JobLogLine> lines;
                    do
                    {
                        lines = await store.ReadLogAfterSeqAsync(id, lastId, 500, ct);
                        foreach (var line in lines)
                        {
                            await writer.WriteAsync($"id: {line.Seq.ToString(CultureInfo.InvariantCulture)}\ndata: {line.Text.TrimEnd('\n')}\n\n");
                            lastId = line.Seq;
                        }
                    }
                    while (lines.Count == 500);
                    if (job is null || job.IsFinished)
                    {
                        var status = JsonSerializer.Serialize(new { status = job?.Status.ToString() ?? "Deleted", error = job?.Error }, JobQueue.PayloadJson);
                        await writer.WriteAsync($"event: status\ndata: {status}\n\n");
                        await writer.FlushAsync(ct);
                        return;
                    }
                    await writer.FlushAsync(ct);
                    var delay = Task.Delay(keepAlive, ct);
                    if (await Task.WhenAny(changed, delay) == delay)
                    {
                        await delay; // throws when the client went away
                        await writer.WriteAsync(": keep-alive\n\n");
                    }
                }
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                // The client disconnected.
            }
        }
    }
}
