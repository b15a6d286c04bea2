using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using OtaServer.Jobs;
using OtaServer.Tests.Workflow;

namespace OtaServer.Tests.Jobs;

public sealed class JobConcurrencyTests
{
    [Fact]
    public async Task WorkerPool_RunsAtMostConcurrencyJobsAtOnce()
    {
        var block = new TestJobs("test-block");
        using var f = new FleetFactory(s => s.AddSingleton<IJobHandler>(block),
            new Dictionary<string, string?> { ["OtaServer:Jobs:Concurrency"] = "2" });
        var admin = f.Admin();
        var queue = f.Services.GetRequiredService<IJobQueue>();
        var ids = new List<string>();
        foreach (var name in new[] { "one", "two", "three" })
            ids.Add((await queue.EnqueueAsync("test-block", TestJobs.Payload(name), null, default)).Job.Id);
        await block.WaitStartedAsync("one");
        await block.WaitStartedAsync("two");
        var statuses = new List<string>();
        foreach (var id in ids)
            statuses.Add(await admin.JobStatusAsync(id));
        Assert.Equal(["Running", "Running", "Pending"], statuses);
        block.Release("one");
        await block.WaitStartedAsync("three");
        block.Release("two");
        block.Release("three");
        foreach (var id in ids)
            Assert.Equal("Succeeded", (await admin.WaitForJobAsync(id)).GetProperty("status").GetString());
    }

    [Fact]
    public async Task OverlappingDeltaJobs_GenerateASharedPairOnlyOnce()
    {
        var (f, content, deltas) = FleetKit.Create(new Dictionary<string, string?> { ["OtaServer:Jobs:Concurrency"] = "2" });
        using var _f = f;
        var admin = f.Admin();
        foreach (var v in new[] { 22, 32, 42 })
            await admin.CreateTargetAsync(v, content.AddCommit(v));
        var release = new TaskCompletionSource();
        deltas.Gate = (_, _, ct) => release.Task.WaitAsync(ct);

        // Two different jobs (different pair sets) that share 22 -> 42, running side by side.
        var a = await admin.PostOkAsync("/api/v1/targets/42/static-deltas", new { from = new[] { 22 } });
        await deltas.Started.WaitAsync(TimeSpan.FromSeconds(60));
        var b = await admin.PostOkAsync("/api/v1/targets/42/static-deltas", new { from = new[] { 22, 32 } });
        Assert.NotEqual(a.GetProperty("job").GetProperty("id").GetString(), b.GetProperty("job").GetProperty("id").GetString());
        release.SetResult();
        foreach (var job in new[] { a, b })
            Assert.Equal("Succeeded", (await admin.WaitForJobAsync(job.GetProperty("job").GetProperty("id").GetString()!)).GetProperty("status").GetString());
        Assert.Equal(1, deltas.Generations[(FleetKit.Commit(22), FleetKit.Commit(42))]);
        Assert.Equal(1, deltas.Generations[(FleetKit.Commit(32), FleetKit.Commit(42))]);
        var log = (await admin.GetFromJsonAsync<JsonElement>($"/api/v1/jobs/{b.GetProperty("job").GetProperty("id").GetString()}")).GetProperty("log");
        Assert.Contains(log.EnumerateArray(), l => l.GetString()!.Contains("22 -> 42") && l.GetString()!.Contains("already exists"));
    }
}
