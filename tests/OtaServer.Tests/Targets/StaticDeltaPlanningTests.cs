using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using OtaServer.Tests.Workflow;

namespace OtaServer.Tests.Targets;

public sealed class StaticDeltaPlanningTests
{
    /// <summary>Targets 12, 22, 32, 42; A, B on 22 and C on 32 follow promoted; D on 32 follows devel; E on 12 follows promoted.</summary>
    private static async Task<(FleetFactory F, FakeRepositoryContent Content, FakeDeltaService Deltas)> FleetAsync()
    {
        var (f, content, deltas) = FleetKit.Create();
        var admin = f.Admin();
        foreach (var v in new[] { 12, 22, 32, 42 })
            await admin.CreateTargetAsync(v, content.AddCommit(v), tags: v == 42 ? [] : ["promoted"]);
        foreach (var (name, tag, version) in new[] { ("A", "promoted", 22), ("B", "promoted", 22), ("C", "promoted", 32), ("D", "devel", 32), ("E", "promoted", 12) })
        {
            var token = await admin.CreateDeviceAsync(name, "hw1");
            await f.CheckInAsync(token, "hw1", tag, FleetKit.Commit(version));
        }
        return (f, content, deltas);
    }

    [Fact]
    public async Task DryRun_PlansFromTheVersionsDevicesFollowingTheTagRun()
    {
        var (f, _, deltas) = await FleetAsync();
        using var _f = f;
        var plan = await f.Admin().PostOkAsync("/api/v1/targets/42/static-deltas", new { byTag = "promoted", dryRun = true });
        var rows = plan.GetProperty("deltas").EnumerateArray()
            .Select(d => (d.GetProperty("from").GetInt64(), d.GetProperty("to").GetInt64(), d.GetProperty("devices").GetInt32(), d.GetProperty("exists").GetBoolean())).ToList();
        Assert.Equal([(12L, 42L, 1, false), (22L, 42L, 2, false), (32L, 42L, 1, false)], rows);
        Assert.Null(plan.GetProperty("job").GetString());
        Assert.Empty(deltas.Generations);
    }

    [Fact]
    public async Task DryRun_DeletedTargetIsReportedAsOrphan_AndExistingDeltasAreMarked()
    {
        var (f, _, deltas) = await FleetAsync();
        using var _f = f;
        var admin = f.Admin();
        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync("/api/v1/targets/12")).StatusCode);
        deltas.Deltas[(FleetKit.Commit(32), FleetKit.Commit(42))] = new(
            "main", FleetKit.Commit(32), FleetKit.Commit(42), 1, 1, 1, 0, 0, 1, 0, "fake", DateTimeOffset.UtcNow);
        var plan = await admin.PostOkAsync("/api/v1/targets/42/static-deltas", new { byTag = "promoted", from = new[] { 5 }, dryRun = true });
        var orphans = plan.GetProperty("orphans").EnumerateArray().Select(o => (o.GetProperty("version").GetInt64(), o.GetProperty("devices").GetInt32())).ToList();
        Assert.Equal([(5L, 0), (12L, 1)], orphans);
        var rows = plan.GetProperty("deltas").EnumerateArray().Select(d => (d.GetProperty("from").GetInt64(), d.GetProperty("exists").GetBoolean())).ToList();
        Assert.Equal([(22L, false), (32L, true)], rows);
    }

    [Fact]
    public async Task Run_QueuesOneJobForTheMissingDeltas_AndAnIdenticalRequestJoinsIt()
    {
        var (f, _, deltas) = await FleetAsync();
        using var _f = f;
        var admin = f.Admin();
        var release = new TaskCompletionSource();
        deltas.Gate = (_, _, ct) => release.Task.WaitAsync(ct);

        var first = await admin.PostAsync("/api/v1/targets/42/static-deltas", FleetKit.JsonBody(new { byTag = "promoted" }));
        Assert.Equal(HttpStatusCode.Accepted, first.StatusCode);
        var job1 = (await first.ReadJsonAsync()).GetProperty("job");
        var id = job1.GetProperty("id").GetString()!;
        Assert.Equal($"/api/v1/jobs/{id}", first.Headers.Location?.OriginalString);
        await deltas.Started.WaitAsync(TimeSpan.FromSeconds(60));

        var second = await admin.PostAsync("/api/v1/targets/42/static-deltas", FleetKit.JsonBody(new { byTag = "promoted" }));
        Assert.Equal(HttpStatusCode.Accepted, second.StatusCode);
        Assert.Equal(id, (await second.ReadJsonAsync()).GetProperty("job").GetProperty("id").GetString());

        release.SetResult();
        var done = await admin.WaitForJobAsync(id);
        Assert.Equal("Succeeded", done.GetProperty("status").GetString());
        Assert.Equal(3, deltas.Generations.Count);
        Assert.All(deltas.Generations.Values, n => Assert.Equal(1, n));
        var log = await admin.JobLogAsync(id);
        Assert.Contains(log, l => l.Contains("22 -> 42") && l.Contains("done"));

        // Everything exists now: nothing to queue.
        var third = await admin.PostAsync("/api/v1/targets/42/static-deltas", FleetKit.JsonBody(new { byTag = "promoted" }));
        Assert.Equal(HttpStatusCode.OK, third.StatusCode);
        Assert.All((await third.ReadJsonAsync()).GetProperty("deltas").EnumerateArray(), d => Assert.True(d.GetProperty("exists").GetBoolean()));
    }

    [Fact]
    public async Task Run_GenerationFails_JobEndsFailedWithTheReason()
    {
        var (f, _, deltas) = await FleetAsync();
        using var _f = f;
        deltas.FailWith = "out of space in tmp/";
        var admin = f.Admin();
        var res = await admin.PostOkAsync("/api/v1/targets/42/static-deltas", new { from = new[] { 22 } });
        var done = await admin.WaitForJobAsync(res.GetProperty("job").GetProperty("id").GetString()!);
        Assert.Equal("Failed", done.GetProperty("status").GetString());
        Assert.Equal("out of space in tmp/", done.GetProperty("error").GetString());
    }

    [Theory]
    [InlineData(99, "{\"byTag\": \"promoted\"}", HttpStatusCode.NotFound)]
    [InlineData(42, "{\"byTag\": \"no tag\"}", HttpStatusCode.BadRequest)]
    [InlineData(42, "{\"from\": [42]}", HttpStatusCode.BadRequest)]
    [InlineData(42, "{}", HttpStatusCode.BadRequest)]
    [InlineData(42, "{\"byTag\": ", HttpStatusCode.BadRequest)]
    public async Task BadRequests_GetProblemDetails(int to, string json, HttpStatusCode status)
    {
        var (f, _, _) = await FleetAsync();
        using var _f = f;
        var response = await f.Admin().PostAsync($"/api/v1/targets/{to}/static-deltas", new StringContent(json, System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(status, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }
}
