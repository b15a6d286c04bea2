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
            Assert.Equal(HttpStatusCode.NoContent, (await a.PostAsync("/api/v1/devices/reports",
                FleetKit.JsonBody(new { step, targetVersion = 42, targetCommit = FleetKit.Commit(42), bytes = 1234 }))).StatusCode);
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
