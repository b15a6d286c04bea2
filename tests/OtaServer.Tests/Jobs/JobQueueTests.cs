using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using OtaServer.Jobs;
using OtaServer.Tests.Infrastructure;
using OtaServer.Tests.Workflow;

namespace OtaServer.Tests.Jobs;

public sealed class JobQueueTests : IDisposable
{
    private readonly TestJobs _ok = new("test-ok");
    private readonly TestJobs _fail = new("test-fail");
    private readonly TestJobs _block = new("test-block");
    private readonly TempDirectory _data = new("ota-jobs");

    private FleetFactory NewFactory(string? timeout = null, TestJobs? block = null) =>
        new(s =>
        {
            s.AddSingleton<IJobHandler>(_ok);
            s.AddSingleton<IJobHandler>(_fail);
            s.AddSingleton<IJobHandler>(block ?? _block);
        }, new Dictionary<string, string?> { ["OtaServer:Jobs:Timeout"] = timeout ?? "00:05:00" }, _data.Path);

    private static IJobQueue Queue(FleetFactory f) => f.Services.GetRequiredService<IJobQueue>();

    public void Dispose() => _data.Dispose();

    [Fact]
    public async Task Enqueue_SameDedupKeyWhileRunning_ReturnsTheSameJobAndRunsOnce()
    {
        using var f = NewFactory();
        var admin = f.Admin();
        var (first, created1) = await Queue(f).EnqueueAsync("test-block", TestJobs.Payload("a"), "key-1", default);
        await _block.WaitStartedAsync("a");
        var (second, created2) = await Queue(f).EnqueueAsync("test-block", TestJobs.Payload("a"), "key-1", default);
        Assert.True(created1);
        Assert.False(created2);
        Assert.Equal(first.Id, second.Id);
        _block.Release("a");
        Assert.Equal("Succeeded", (await admin.WaitForJobAsync(first.Id)).GetProperty("status").GetString());
        Assert.Single(_block.Ran);
        // Once finished, the same key queues a new job.
        var (third, created3) = await Queue(f).EnqueueAsync("test-ok", TestJobs.Payload("b"), "key-1", default);
        Assert.True(created3);
        Assert.NotEqual(first.Id, third.Id);
    }

    [Fact]
    public async Task Cancel_PendingJob_EndsCancelledWithoutRunning()
    {
        using var f = NewFactory();
        var admin = f.Admin();
        var (running, _) = await Queue(f).EnqueueAsync("test-block", TestJobs.Payload("first"), null, default);
        await _block.WaitStartedAsync("first");
        var (pending, _) = await Queue(f).EnqueueAsync("test-ok", TestJobs.Payload("second"), null, default);
        var response = await admin.PostAsync($"/api/v1/jobs/{pending.Id}/cancel", null);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("Cancelled", (await response.ReadJsonAsync()).GetProperty("status").GetString());
        _block.Release("first");
        await admin.WaitForJobAsync(running.Id);
        Assert.DoesNotContain("second", _ok.Ran);
    }

    [Fact]
    public async Task Cancel_RunningJob_EndsCancelledAndTheWorkerRunsTheNextJob()
    {
        using var f = NewFactory();
        var admin = f.Admin();
        var (running, _) = await Queue(f).EnqueueAsync("test-block", TestJobs.Payload("forever"), null, default);
        var (next, _) = await Queue(f).EnqueueAsync("test-ok", TestJobs.Payload("next"), null, default);
        await _block.WaitStartedAsync("forever");
        var response = await admin.PostAsync($"/api/v1/jobs/{running.Id}/cancel", null);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var job = await admin.WaitForJobAsync(running.Id);
        Assert.Equal("Cancelled", job.GetProperty("status").GetString());
        Assert.Equal("Succeeded", (await admin.WaitForJobAsync(next.Id)).GetProperty("status").GetString());
        var again = await admin.PostAsync($"/api/v1/jobs/{running.Id}/cancel", null);
        Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);
        Assert.Equal("application/problem+json", again.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task Timeout_JobRunningTooLong_EndsFailedWithTheTimeoutInItsLog()
    {
        using var f = NewFactory(timeout: "00:00:00.300");
        var admin = f.Admin();
        var (job, _) = await Queue(f).EnqueueAsync("test-block", TestJobs.Payload("slow"), null, default);
        var done = await admin.WaitForJobAsync(job.Id);
        Assert.Equal("Failed", done.GetProperty("status").GetString());
        Assert.Contains("Timed out", done.GetProperty("error").GetString());
        Assert.Contains(await admin.JobLogAsync(job.Id), l => l.Contains("Failed: Timed out after"));
    }

    [Fact]
    public async Task FailingJob_EndsFailedWithTheReasonInItsLog_AndTheWorkerGoesOn()
    {
        using var f = NewFactory();
        var admin = f.Admin();
        var (bad, _) = await Queue(f).EnqueueAsync("test-fail", TestJobs.Payload("bad"), null, default);
        var (good, _) = await Queue(f).EnqueueAsync("test-ok", TestJobs.Payload("good", "hello"), null, default);
        var failed = await admin.WaitForJobAsync(bad.Id);
        Assert.Equal("Failed", failed.GetProperty("status").GetString());
        Assert.Equal("disk full (on purpose)", failed.GetProperty("error").GetString());
        Assert.Contains(await admin.JobLogAsync(bad.Id), l => l.EndsWith("Failed: disk full (on purpose)"));
        Assert.Equal("Succeeded", (await admin.WaitForJobAsync(good.Id)).GetProperty("status").GetString());
    }

    [Fact]
    public async Task UnknownKind_EndsFailedSayingSo()
    {
        using var f = NewFactory();
        var (job, _) = await Queue(f).EnqueueAsync("no-such-kind", new { }, null, default);
        var done = await f.Admin().WaitForJobAsync(job.Id);
        Assert.Equal("Failed", done.GetProperty("status").GetString());
        Assert.Contains("No handler for job kind 'no-such-kind'", done.GetProperty("error").GetString());
    }

    [Fact]
    public async Task Restart_WhileAJobRuns_RequeuesItAndItCompletesAfterTheRestart()
    {
        string id;
        using (var before = NewFactory())
        {
            (var job, _) = await Queue(before).EnqueueAsync("test-block", TestJobs.Payload("survivor", "step 1"), null, default);
            id = job.Id;
            await _block.WaitStartedAsync("survivor");
            Assert.Equal("Running", await before.Admin().JobStatusAsync(id));
        } // the server stops mid-job

        var after = new TestJobs("test-block");
        after.Release("survivor");
        using var restarted = NewFactory(block: after);
        var admin = restarted.Admin();
        var done = await admin.WaitForJobAsync(id);
        Assert.Equal("Succeeded", done.GetProperty("status").GetString());
        Assert.Equal(2, done.GetProperty("attempts").GetInt32());
        var log = await admin.JobLogAsync(id);
        Assert.Contains(log, l => l.Contains("Interrupted by server shutdown"));
        Assert.Contains(log, l => l.Contains("queued again"));
        Assert.Contains(log, l => l.EndsWith("released survivor"));
    }

    [Fact]
    public async Task GetJob_ListsStatusTimingsAndLogLines()
    {
        using var f = NewFactory();
        var admin = f.Admin();
        var (job, _) = await Queue(f).EnqueueAsync("test-ok", TestJobs.Payload("x", "line one", "line two"), null, default);
        await admin.WaitForJobAsync(job.Id);
        var details = await admin.GetFromJsonAsync<JsonElement>($"/api/v1/jobs/{job.Id}");
        var j = details.GetProperty("job");
        Assert.Equal("test-ok", j.GetProperty("kind").GetString());
        Assert.NotEqual(JsonValueKind.Null, j.GetProperty("startedAt").ValueKind);
        Assert.NotEqual(JsonValueKind.Null, j.GetProperty("finishedAt").ValueKind);
        var lines = details.GetProperty("log").EnumerateArray().Select(e => e.GetString()!).ToList();
        Assert.Contains(lines, l => l.EndsWith(" line one"));
        Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z ", lines[0]);
        var list = await admin.GetFromJsonAsync<JsonElement>("/api/v1/jobs");
        Assert.Contains(list.EnumerateArray(), e => e.GetProperty("id").GetString() == job.Id);
    }

    [Fact]
    public async Task UnknownJob_Returns404Problem()
    {
        using var f = NewFactory();
        var response = await f.Admin().GetAsync("/api/v1/jobs/nope");
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(HttpStatusCode.NotFound, (await f.Admin().GetAsync("/api/v1/jobs/nope/log")).StatusCode);
    }
}
