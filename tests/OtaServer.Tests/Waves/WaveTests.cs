using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using OtaServer.Tests.Workflow;

namespace OtaServer.Tests.Waves;

public sealed class WaveTests
{
    private sealed record Fleet(FleetFactory F, HttpClient Admin, FakeDeltaService Deltas, Dictionary<string, string> Tokens);

    /// <summary>Targets 22 (tag production) and 42; twelve devices on 22 following production: beta-1..2 in group beta, prod-01..10 in group prod.</summary>
    private static async Task<Fleet> FleetAsync(bool withDeltas)
    {
        var (f, content, deltas) = FleetKit.Create();
        var admin = f.Admin();
        await admin.CreateTargetAsync(22, content.AddCommit(22), tags: ["production"]);
        await admin.CreateTargetAsync(42, content.AddCommit(42));
        var tokens = new Dictionary<string, string>();
        var names = new[] { "beta-1", "beta-2" }.Concat(Enumerable.Range(1, 10).Select(i => $"prod-{i:00}"));
        foreach (var name in names)
        {
            tokens[name] = await admin.CreateDeviceAsync(name, "hw1");
            var group = name.StartsWith("beta") ? "beta" : "prod";
            var patch = await admin.PatchAsync($"/api/v1/devices/{name}", FleetKit.JsonBody(new { group }));
            Assert.Equal(HttpStatusCode.OK, patch.StatusCode);
            await f.CheckInAsync(tokens[name], "hw1", "production", FleetKit.Commit(22));
        }
        if (withDeltas)
            deltas.Deltas[(FleetKit.Commit(22), FleetKit.Commit(42))] = new("main", FleetKit.Commit(22), FleetKit.Commit(42), 1, 10, 10, 0, 0, 1, 0, "fake", DateTimeOffset.UtcNow);
        return new Fleet(f, admin, deltas, tokens);
    }

    private static async Task<long?> TargetOfAsync(Fleet fleet, string device, long runs, object? lastUpdate = null)
    {
        using var client = fleet.F.CreateClient(fleet.Tokens[device]);
        var res = await client.PostOkAsync("/api/v1/devices/checkin", new { hardwareId = "hw1", tag = "production", currentCommit = FleetKit.Commit(runs), lastUpdate });
        return res.GetProperty("target").ValueKind == JsonValueKind.Null ? null : res.GetProperty("target").GetProperty("version").GetInt64();
    }

    private static async Task<(int[] All, Dictionary<string, int[]> Groups, string Status)> StatusAsync(Fleet fleet, string wave)
    {
        var s = await fleet.Admin.GetFromJsonAsync<JsonElement>($"/api/v1/waves/{wave}");
        static int[] Row(JsonElement t) => [.. new[] { "inScope", "scheduled", "updated", "failed", "notYetSeen" }.Select(k => t.GetProperty(k).GetInt32())];
        var groups = s.GetProperty("groups").EnumerateObject().ToDictionary(p => p.Name, p => Row(p.Value));
        return (Row(s.GetProperty("totals")), groups, s.GetProperty("wave").GetProperty("status").GetString()!);
    }

    [Fact]
    public async Task RolloutOfAWholeGroup_ReachesDevicesThatJoinTheGroupLater_ButNotAPercentageOfIt()
    {
        var fleet = await FleetAsync(withDeltas: true);
        using var _f = fleet.F;
        var admin = fleet.Admin;
        await admin.PostOkAsync("/api/v1/waves", new { name = "w42", version = 42, tag = "production" });
        var step = await admin.PostOkAsync("/api/v1/waves/w42/rollout", new { group = "beta" });
        Assert.Equal(2, step.GetProperty("devices").GetArrayLength());
        Assert.Equal(42, await TargetOfAsync(fleet, "beta-1", 22));

        // prod-01 is offered the tag's target until it joins beta; then the wave reaches it at beta's step.
        Assert.Equal(22, await TargetOfAsync(fleet, "prod-01", 22));
        var moved = await admin.PatchAsync("/api/v1/devices/prod-01", FleetKit.JsonBody(new { group = "beta" }));
        Assert.Equal(HttpStatusCode.OK, moved.StatusCode);
        Assert.Equal(42, await TargetOfAsync(fleet, "prod-01", 22));
        Assert.Equal(22, await TargetOfAsync(fleet, "prod-02", 22));
        var (all, groups, _) = await StatusAsync(fleet, "w42");
        Assert.Equal(3, all[1]);
        Assert.Equal(3, groups["beta"][1]);
        var history = (await admin.GetFromJsonAsync<JsonElement>("/api/v1/waves/w42")).GetProperty("history");
        Assert.Equal(1, history.GetArrayLength());
        Assert.Equal(3, history[0].GetProperty("devices").GetInt32());
        Assert.Equal("admin", history[0].GetProperty("by").GetString());

        // A percentage of a group is a one-off choice: a device joining prod later is not followed.
        await admin.PostOkAsync("/api/v1/waves/w42/rollout", new { group = "prod", percentage = 10 });
        Assert.Equal(4, (await StatusAsync(fleet, "w42")).All[1]);
        fleet.Tokens["new-1"] = await admin.CreateDeviceAsync("new-1", "hw1");
        var joined = await admin.PatchAsync("/api/v1/devices/new-1", FleetKit.JsonBody(new { group = "prod" }));
        Assert.Equal(HttpStatusCode.OK, joined.StatusCode);
        Assert.Equal(22, await TargetOfAsync(fleet, "new-1", 22));
        Assert.Equal(4, (await StatusAsync(fleet, "w42")).All[1]);

        // Once the wave is cancelled, joining the group schedules nobody.
        await admin.PostOkAsync("/api/v1/waves/w42/cancel", new { });
        var late = await admin.PatchAsync("/api/v1/devices/prod-04", FleetKit.JsonBody(new { group = "beta" }));
        Assert.Equal(HttpStatusCode.OK, late.StatusCode);
        Assert.Equal(22, await TargetOfAsync(fleet, "prod-04", 22));
        Assert.Equal(4, (await StatusAsync(fleet, "w42")).All[1]);
    }

    [Fact]
    public async Task Scenario_InitRefusedWithoutDeltas_BetaThenHalfOfProd_ThenCompleteGivesEveryone42()
    {
        var fleet = await FleetAsync(withDeltas: false);
        using var _f = fleet.F;
        var admin = fleet.Admin;

        // Refused without deltas, with the missing pair in the answer.
        var refused = await admin.PostAsync("/api/v1/waves", FleetKit.JsonBody(new { name = "w42", version = 42, tag = "production" }));
        Assert.Equal(HttpStatusCode.Conflict, refused.StatusCode);
        var problem = await refused.ReadJsonAsync();
        var missing = Assert.Single(problem.GetProperty("missing").EnumerateArray());
        Assert.Equal(22, missing.GetProperty("from").GetInt64());
        Assert.Equal(12, missing.GetProperty("devices").GetInt32());

        // Generate the delta, then the wave is accepted.
        var job = await admin.PostOkAsync("/api/v1/targets/42/static-deltas", new { byTag = "production" });
        Assert.Equal("Succeeded", (await admin.WaitForJobAsync(job.GetProperty("job").GetProperty("id").GetString()!)).GetProperty("status").GetString());
        var created = await admin.PostAsync("/api/v1/waves", FleetKit.JsonBody(new { name = "w42", version = 42, tag = "production" }));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);

        var beta = await admin.PostOkAsync("/api/v1/waves/w42/rollout", new { group = "beta" });
        Assert.Equal(["beta-1", "beta-2"], beta.GetProperty("devices").EnumerateArray().Select(e => e.GetString()).Order());
        var (all, groups, status) = await StatusAsync(fleet, "w42");
        Assert.Equal("Active", status);
        Assert.Equal([12, 2, 0, 0, 2], all);
        Assert.Equal([2, 2, 0, 0, 2], groups["beta"]);
        Assert.Equal([10, 0, 0, 0, 0], groups["prod"]);

        // Only beta devices get 42.
        Assert.Equal(42, await TargetOfAsync(fleet, "beta-1", 22));
        Assert.Equal(42, await TargetOfAsync(fleet, "beta-2", 22));
        Assert.Equal(22, await TargetOfAsync(fleet, "prod-01", 22));
        // beta-1 updates and reports ok.
        Assert.Equal(42, await TargetOfAsync(fleet, "beta-1", 42, new { version = 42, result = "ok" }));
        (all, groups, _) = await StatusAsync(fleet, "w42");
        Assert.Equal([12, 2, 1, 0, 0], all);

        // Half of prod: a dry run schedules nothing, the real step schedules five.
        var dry = await admin.PostOkAsync("/api/v1/waves/w42/rollout", new { group = "prod", percentage = 50, dryRun = true });
        Assert.Equal(5, dry.GetProperty("devices").GetArrayLength());
        (all, _, _) = await StatusAsync(fleet, "w42");
        Assert.Equal([12, 2, 1, 0, 0], all);
        var half = await admin.PostOkAsync("/api/v1/waves/w42/rollout", new { group = "prod", percentage = 50 });
        var halfNames = half.GetProperty("devices").EnumerateArray().Select(e => e.GetString()!).ToList();
        Assert.Equal(5, halfNames.Count);
        (all, groups, _) = await StatusAsync(fleet, "w42");
        Assert.Equal([12, 7, 1, 0, 5], all);
        Assert.Equal([10, 5, 0, 0, 5], groups["prod"]);
        var prodOn42 = 0;
        foreach (var name in fleet.Tokens.Keys.Where(n => n.StartsWith("prod")))
        {
            if (await TargetOfAsync(fleet, name, 22) == 42)
                prodOn42++;
        }

        Assert.Equal(5, prodOn42);
        // Devices already in the wave are skipped: 50% again adds nobody.
        Assert.Equal(0, (await admin.PostOkAsync("/api/v1/waves/w42/rollout", new { group = "prod", percentage = 50 })).GetProperty("devices").GetArrayLength());

        var completed = await admin.PostOkAsync("/api/v1/waves/w42/complete", new { });
        Assert.Equal("Completed", completed.GetProperty("status").GetString());
        foreach (var name in fleet.Tokens.Keys)
            Assert.Equal(42, await TargetOfAsync(fleet, name, name == "beta-1" ? 42 : 22));
        var rolloutAfter = await admin.PostAsync("/api/v1/waves/w42/rollout", FleetKit.JsonBody(new { limit = 1 }));
        Assert.Equal(HttpStatusCode.Conflict, rolloutAfter.StatusCode);
        Assert.Equal("application/problem+json", rolloutAfter.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task HealthGate_FailuresOverTheThreshold_PauseTheWave_NoFurtherDeviceGets42_ResumeContinues()
    {
        var fleet = await FleetAsync(withDeltas: true);
        using var _f = fleet.F;
        var admin = fleet.Admin;
        await admin.PostOkAsync("/api/v1/waves", new { name = "gate", version = 42, tag = "production", failureRatio = 0.3, minSample = 3 });
        var step = await admin.PostOkAsync("/api/v1/waves/gate/rollout", new { group = "prod", limit = 6 });
        var names = step.GetProperty("devices").EnumerateArray().Select(e => e.GetString()!).ToList();
        Assert.Equal(6, names.Count);

        Assert.Equal(42, await TargetOfAsync(fleet, names[0], 42, new { version = 42, result = "ok" }));
        await TargetOfAsync(fleet, names[1], 22, new { version = 42, result = "failed", detail = "boot check failed" });
        Assert.Equal("Active", (await StatusAsync(fleet, "gate")).Status); // 1 of 2: below the minimum sample
        await TargetOfAsync(fleet, names[2], 22, new { version = 42, result = "failed", detail = "boot check failed" });

        var status = await admin.GetFromJsonAsync<JsonElement>("/api/v1/waves/gate");
        Assert.Equal("Paused", status.GetProperty("wave").GetProperty("status").GetString());
        Assert.Contains("2 of 3", status.GetProperty("wave").GetProperty("statusReason").GetString());
        Assert.Equal(2, status.GetProperty("totals").GetProperty("failed").GetInt32());

        // Scheduled devices that have not updated are not handed 42 while paused; the updated one keeps it.
        Assert.Equal(22, await TargetOfAsync(fleet, names[3], 22));
        Assert.Equal(22, await TargetOfAsync(fleet, names[1], 22));
        Assert.Equal(42, await TargetOfAsync(fleet, names[0], 42));
        Assert.Equal(HttpStatusCode.Conflict, (await admin.PostAsync("/api/v1/waves/gate/rollout", FleetKit.JsonBody(new { limit = 1 }))).StatusCode);

        Assert.Equal("Active", (await admin.PostOkAsync("/api/v1/waves/gate/resume", new { })).GetProperty("status").GetString());
        Assert.Equal(42, await TargetOfAsync(fleet, names[3], 22));
    }

    [Fact]
    public async Task Cancel_ReturnsScheduledDevicesThatHaveNotUpdatedToTheTagsTarget()
    {
        var fleet = await FleetAsync(withDeltas: true);
        using var _f = fleet.F;
        var admin = fleet.Admin;
        await admin.PostOkAsync("/api/v1/waves", new { name = "c", version = 42, tag = "production" });
        await admin.PostOkAsync("/api/v1/waves/c/rollout", new { devices = new[] { "prod-01", "prod-02", "prod-03" } });
        Assert.Equal(42, await TargetOfAsync(fleet, "prod-02", 22));
        Assert.Equal(42, await TargetOfAsync(fleet, "prod-01", 42)); // updated
        Assert.Equal("Cancelled", (await admin.PostOkAsync("/api/v1/waves/c/cancel", new { })).GetProperty("status").GetString());
        Assert.Equal(22, await TargetOfAsync(fleet, "prod-02", 22));
        Assert.Equal(22, await TargetOfAsync(fleet, "prod-03", 22));
        Assert.Equal(42, await TargetOfAsync(fleet, "prod-01", 42)); // no downgrade for the updated one
        Assert.Equal(22, await TargetOfAsync(fleet, "prod-04", 22));
    }

    [Fact]
    public async Task PauseAfterEachStep_HoldsUntilResumed()
    {
        var fleet = await FleetAsync(withDeltas: true);
        using var _f = fleet.F;
        var admin = fleet.Admin;
        await admin.PostOkAsync("/api/v1/waves", new { name = "steps", version = 42, tag = "production", pauseAfterEachStep = true });
        var first = await admin.PostOkAsync("/api/v1/waves/steps/rollout", new { limit = 2 });
        Assert.Equal("Holding", first.GetProperty("status").GetString());
        var scheduled = first.GetProperty("devices")[0].GetString()!;
        Assert.Equal(42, await TargetOfAsync(fleet, scheduled, 22)); // holding still serves the step's devices
        Assert.Equal(HttpStatusCode.Conflict, (await admin.PostAsync("/api/v1/waves/steps/rollout", FleetKit.JsonBody(new { limit = 2 }))).StatusCode);
        await admin.PostOkAsync("/api/v1/waves/steps/resume", new { });
        Assert.Equal(2, (await admin.PostOkAsync("/api/v1/waves/steps/rollout", new { limit = 2 })).GetProperty("devices").GetArrayLength());
    }

    [Fact]
    public async Task BadInput_GetsProblemDetails()
    {
        var fleet = await FleetAsync(withDeltas: true);
        using var _f = fleet.F;
        var admin = fleet.Admin;
        async Task Expect(HttpResponseMessage r, HttpStatusCode code, string? detail = null)
        {
            Assert.Equal(code, r.StatusCode);
            Assert.Equal("application/problem+json", r.Content.Headers.ContentType?.MediaType);
            if (detail is not null)
                Assert.Contains(detail, (await r.ReadJsonAsync()).GetProperty("detail").GetString());
        }
        await Expect(await admin.GetAsync("/api/v1/waves/nope"), HttpStatusCode.NotFound, "No wave named 'nope'");
        await Expect(await admin.PostAsync("/api/v1/waves/nope/rollout", FleetKit.JsonBody(new { limit = 1 })), HttpStatusCode.NotFound);
        await Expect(await admin.PostAsync("/api/v1/waves", FleetKit.JsonBody(new { name = "old", version = 22, tag = "production" })), HttpStatusCode.Conflict, "not newer");
        await Expect(await admin.PostAsync("/api/v1/waves", FleetKit.JsonBody(new { name = "x", version = 99, tag = "production" })), HttpStatusCode.NotFound);
        await Expect(await admin.PostAsync("/api/v1/waves", FleetKit.JsonBody(new { name = "bad name", version = 42, tag = "production" })), HttpStatusCode.BadRequest);
        await Expect(await admin.PostAsync("/api/v1/waves", new StringContent("{", Encoding.UTF8, "application/json")), HttpStatusCode.BadRequest, "not valid JSON");
        await admin.PostOkAsync("/api/v1/waves", new { name = "ok", version = 42, tag = "production" });
        await Expect(await admin.PostAsync("/api/v1/waves", FleetKit.JsonBody(new { name = "ok2", version = 42, tag = "production" })), HttpStatusCode.Conflict, "still open");
        await Expect(await admin.PostAsync("/api/v1/waves/ok/rollout", FleetKit.JsonBody(new { limit = 1, percentage = 5 })), HttpStatusCode.BadRequest);
        await Expect(await admin.PostAsync("/api/v1/waves/ok/rollout", FleetKit.JsonBody(new { devices = new[] { "stranger" } })), HttpStatusCode.BadRequest, "stranger");
        await Expect(await admin.PostAsync("/api/v1/waves/ok/resume", null), HttpStatusCode.Conflict);
        await admin.PostOkAsync("/api/v1/waves/ok/complete", new { });
        await Expect(await admin.PostAsync("/api/v1/waves/ok/rollout", FleetKit.JsonBody(new { limit = 1 })), HttpStatusCode.Conflict, "Completed");
        await Expect(await admin.PatchAsync("/api/v1/devices/ghost", FleetKit.JsonBody(new { group = "beta" })), HttpStatusCode.NotFound);
        using var device = fleet.F.CreateClient(fleet.Tokens["prod-01"]);
        await Expect(await device.GetAsync("/api/v1/waves"), HttpStatusCode.Forbidden);
    }

    [Fact]
    public async Task Swagger_ListsEveryWaveRoute()
    {
        var (f, _, _) = FleetKit.Create();
        using var _f = f;
        var paths = (await f.CreateClient().GetFromJsonAsync<JsonElement>("/swagger/v1/swagger.json")).GetProperty("paths");
        foreach (var (path, method) in new[]
        {
            ("/api/v1/waves", "post"), ("/api/v1/waves", "get"), ("/api/v1/waves/{name}", "get"), ("/api/v1/waves/{name}/rollout", "post"),
            ("/api/v1/waves/{name}/complete", "post"), ("/api/v1/waves/{name}/cancel", "post"), ("/api/v1/waves/{name}/resume", "post"),
            ("/api/v1/devices/{name}", "patch"),
        })
        {
            Assert.True(paths.TryGetProperty(path, out var item) && item.TryGetProperty(method, out _), $"{method} {path} missing");
        }
    }
}
