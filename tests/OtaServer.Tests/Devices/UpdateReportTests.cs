using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using OtaServer.Tests.Workflow;

namespace OtaServer.Tests.Devices;

public sealed class UpdateReportTests
{
    [Fact]
    public async Task Reports_AreKeptPerDevice_OldestFirst_AndOnlyTheDevicesOwn()
    {
        var (f, _, _) = FleetKit.Create();
        using var _f = f;
        var admin = f.Admin();
        var tokenA = await admin.CreateDeviceAsync("a");
        var tokenB = await admin.CreateDeviceAsync("b");
        using var a = f.CreateClient(tokenA);
        using var b = f.CreateClient(tokenB);
        foreach (var step in new[] { "download-started", "downloaded", "staged" })
        {
            Assert.Equal(HttpStatusCode.NoContent, (await a.PostAsync("/api/v1/devices/reports",
                FleetKit.JsonBody(new { step, targetVersion = 42, targetCommit = FleetKit.Commit(42), bytes = 1234 }))).StatusCode);
        }

        Assert.Equal(HttpStatusCode.NoContent, (await b.PostAsync("/api/v1/devices/reports",
            FleetKit.JsonBody(new { step = "no-space", targetVersion = 42, detail = "needs 10 MB, 2 MB free" }))).StatusCode);

        var historyA = await admin.GetFromJsonAsync<JsonElement>("/api/v1/devices/a/updates");
        Assert.Equal(["download-started", "downloaded", "staged"], historyA.EnumerateArray().Select(e => e.GetProperty("step").GetString()));
        Assert.Equal(1234, historyA[1].GetProperty("bytes").GetInt64());
        var historyB = await admin.GetFromJsonAsync<JsonElement>("/api/v1/devices/b/updates");
        Assert.Equal("no-space", Assert.Single(historyB.EnumerateArray()).GetProperty("step").GetString());
        var newest = await admin.GetFromJsonAsync<JsonElement>("/api/v1/devices/a/updates?limit=1");
        Assert.Equal("staged", Assert.Single(newest.EnumerateArray()).GetProperty("step").GetString());
    }

    [Fact]
    public async Task Report_WithAnUnknownStep_Is400_AndHistoryOfAnUnknownDevice_Is404()
    {
        var (f, _, _) = FleetKit.Create();
        using var _f = f;
        var admin = f.Admin();
        using var d = f.CreateClient(await admin.CreateDeviceAsync("d"));
        var bad = await d.PostAsync("/api/v1/devices/reports", FleetKit.JsonBody(new { step = "exploded" }));
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Contains("no-space", (await bad.ReadJsonAsync()).GetProperty("detail").GetString());
        Assert.Equal(HttpStatusCode.NotFound, (await admin.GetAsync("/api/v1/devices/nobody/updates")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await admin.PostAsync("/api/v1/devices/reports", FleetKit.JsonBody(new { step = "ok" }))).StatusCode);
    }
}

public sealed class UpdateReportCliTests
{
    [Fact]
    public async Task OtactlDevicesShow_ListsTheReportedSteps()
    {
        var (f, _, _) = FleetKit.Create();
        using var _f = f;
        var server = f.StartKestrel();
        using var admin = new HttpClient { BaseAddress = server };
        admin.DefaultRequestHeaders.Authorization = new("Bearer", Infrastructure.OtaServerFactory.AdminToken);
        var token = await admin.CreateDeviceAsync("pi-1", "rpi4");
        var empty = await FleetKit.OtactlAsync(server, "devices", "show", "pi-1");
        Assert.True(empty.Exit == 0, empty.Err);
        Assert.Contains("No update reported yet.", empty.Out);
        using var device = new HttpClient { BaseAddress = server };
        device.DefaultRequestHeaders.Authorization = new("Bearer", token);
        foreach (var step in new[] { "download-started", "downloaded" })
            (await device.PostAsync("api/v1/devices/reports", FleetKit.JsonBody(new { step, targetVersion = 42, bytes = 5000 }))).EnsureSuccessStatusCode();
        (await device.PostAsync("api/v1/devices/reports", FleetKit.JsonBody(new { step = "failed", targetVersion = 42, detail = "health check failed: exit 3" }))).EnsureSuccessStatusCode();

        var (exit, stdout, stderr) = await FleetKit.OtactlAsync(server, "devices", "show", "pi-1");
        Assert.True(exit == 0, stderr);
        var lines = stdout.ReplaceLineEndings("\n").Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.StartsWith("Device pi-1: hardware rpi4", lines[0]);
        Assert.Contains("STEP", lines[1]);
        Assert.Contains("download-started", lines[2]);
        Assert.Contains("5000", lines[3]);
        Assert.Contains("health check failed: exit 3", lines[4]);
        var missing = await FleetKit.OtactlAsync(server, "devices", "show", "nobody");
        Assert.NotEqual(0, missing.Exit);
    }
}
