using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using OtaServer.Tests.Workflow;

namespace OtaServer.Tests.Devices;

public sealed class CheckinTests
{
    [Fact]
    public async Task Checkin_GetsTheNewestTargetCarryingItsTagForItsHardware()
    {
        var (f, content, _) = FleetKit.Create();
        using var _f = f;
        var admin = f.Admin();
        await admin.CreateTargetAsync(10, content.AddCommit(10), tags: ["stable"]);
        await admin.CreateTargetAsync(20, content.AddCommit(20), tags: ["stable"], hardwareIds: ["rpi4"]);
        await admin.CreateTargetAsync(30, content.AddCommit(30), tags: ["stable"], hardwareIds: ["x86"]);
        await admin.CreateTargetAsync(40, content.AddCommit(40), tags: ["beta"]);
        var token = await admin.CreateDeviceAsync("pi-1", "rpi4");

        var res = await f.CheckInAsync(token, "rpi4", "stable", FleetKit.Commit(10));
        Assert.True(res.GetProperty("updateAvailable").GetBoolean());
        var target = res.GetProperty("target");
        Assert.Equal(20, target.GetProperty("version").GetInt64());
        Assert.Equal(FleetKit.Commit(20), target.GetProperty("commit").GetString());
        Assert.Equal("main", target.GetProperty("ref").GetString());
        Assert.EndsWith("/repos/main", target.GetProperty("repositoryUrl").GetString());
        Assert.False(res.GetProperty("delta").GetProperty("available").GetBoolean());
        Assert.Equal(10, res.GetProperty("delta").GetProperty("from").GetInt64());
    }

    [Fact]
    public async Task Checkin_OnTheTargetCommit_NoUpdate_AndNoTargetForUnknownTag()
    {
        var (f, content, _) = FleetKit.Create();
        using var _f = f;
        var admin = f.Admin();
        await admin.CreateTargetAsync(10, content.AddCommit(10), tags: ["stable"]);
        var token = await admin.CreateDeviceAsync("d");
        var same = await f.CheckInAsync(token, "hw1", "stable", FleetKit.Commit(10));
        Assert.False(same.GetProperty("updateAvailable").GetBoolean());
        Assert.Equal(10, same.GetProperty("target").GetProperty("version").GetInt64());
        var none = await f.CheckInAsync(token, "hw1", "nightly", FleetKit.Commit(10));
        Assert.False(none.GetProperty("updateAvailable").GetBoolean());
        Assert.Equal(JsonValueKind.Null, none.GetProperty("target").ValueKind);
    }

    [Fact]
    public async Task Checkin_DeltaAvailable_WhenTheDeltaExists_WithItsSize()
    {
        var (f, content, deltas) = FleetKit.Create();
        using var _f = f;
        var admin = f.Admin();
        await admin.CreateTargetAsync(1, content.AddCommit(1), tags: ["t"]);
        await admin.CreateTargetAsync(2, content.AddCommit(2), tags: ["t"]);
        deltas.Deltas[(FleetKit.Commit(1), FleetKit.Commit(2))] = new("main", FleetKit.Commit(1), FleetKit.Commit(2), 2, 700, 900, 1, 50, 30, 1, "fake", DateTimeOffset.UtcNow, 120);
        var token = await admin.CreateDeviceAsync("d");
        var res = await f.CheckInAsync(token, "hw1", "t", FleetKit.Commit(1));
        var delta = res.GetProperty("delta");
        Assert.True(delta.GetProperty("available").GetBoolean());
        // Parts + fallbacks, as `ostree static-delta show` totals them (the superblock is not counted).
        Assert.Equal(750, delta.GetProperty("downloadBytes").GetInt64());
        Assert.Equal(750, delta.GetProperty("size").GetInt64());
        Assert.Equal(1020, delta.GetProperty("requiredBytes").GetInt64());
    }

    [Fact]
    public async Task Checkin_RecordsVersionTagAndLastSeen_DevicesListFilters()
    {
        var (f, content, _) = FleetKit.Create();
        using var _f = f;
        var admin = f.Admin();
        await admin.CreateTargetAsync(22, content.AddCommit(22), tags: ["promoted"]);
        await admin.CreateTargetAsync(32, content.AddCommit(32), tags: ["devel"]);
        var a = await admin.CreateDeviceAsync("A");
        var d = await admin.CreateDeviceAsync("D");
        await f.CheckInAsync(a, "hw1", "promoted", FleetKit.Commit(22));
        await f.CheckInAsync(d, "hw1", "devel", FleetKit.Commit(32));

        var promoted = await admin.GetFromJsonAsync<JsonElement>("/api/v1/devices?tag=promoted");
        var dev = Assert.Single(promoted.EnumerateArray());
        Assert.Equal("A", dev.GetProperty("name").GetString());
        Assert.Equal(22, dev.GetProperty("currentVersion").GetInt64());
        Assert.Equal(FleetKit.Commit(22), dev.GetProperty("currentCommit").GetString());
        Assert.NotEqual(JsonValueKind.Null, dev.GetProperty("lastSeen").ValueKind);
        var on32 = await admin.GetFromJsonAsync<JsonElement>("/api/v1/devices?version=32");
        Assert.Equal(["D"], on32.EnumerateArray().Select(e => e.GetProperty("name").GetString()));

        // A moves to 32: the change is written at once.
        await f.CheckInAsync(a, "hw1", "promoted", FleetKit.Commit(32));
        var moved = await admin.GetFromJsonAsync<JsonElement>("/api/v1/devices/A");
        Assert.Equal(32, moved.GetProperty("currentVersion").GetInt64());
    }

    [Theory]
    [InlineData("{\"tag\": \"t\", \"currentCommit\": null}", "'hardwareId' is required")]
    [InlineData("{\"hardwareId\": \"hw1\", \"tag\": \"bad tag\"}", "'tag'")]
    [InlineData("{\"hardwareId\": \"hw1\", \"tag\": \"t\", \"currentCommit\": \"abc\"}", "'currentCommit'")]
    [InlineData("not json", "not valid JSON")]
    public async Task Checkin_BadInput_Returns400Problem(string json, string detail)
    {
        var (f, _, _) = FleetKit.Create();
        using var _f = f;
        var token = await f.Admin().CreateDeviceAsync("d");
        using var client = f.CreateClient(token);
        var response = await client.PostAsync("/api/v1/devices/checkin", new StringContent(json, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains(detail, (await response.ReadJsonAsync()).GetProperty("detail").GetString());
    }

    [Fact]
    public async Task Checkin_NeedsADeviceToken()
    {
        var (f, _, _) = FleetKit.Create();
        using var _f = f;
        var body = FleetKit.JsonBody(new { hardwareId = "hw1", tag = "t" });
        Assert.Equal(HttpStatusCode.Forbidden, (await f.Admin().PostAsync("/api/v1/devices/checkin", body)).StatusCode);
        using var anonymous = f.CreateClient(null);
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.PostAsync("/api/v1/devices/checkin", body)).StatusCode);
        using var wrong = f.CreateClient(new string('0', 64));
        Assert.Equal(HttpStatusCode.Unauthorized, (await wrong.PostAsync("/api/v1/devices/checkin", body)).StatusCode);
    }

    [Fact]
    public async Task UnchangedCheckin_LastSeenIsQueuedAndWrittenInABatch()
    {
        var (f, _, _) = FleetKit.Create(new Dictionary<string, string?>
        {
            ["OtaServer:Devices:LastSeenWriteInterval"] = "00:00:00",
            ["OtaServer:Devices:LastSeenFlushInterval"] = "00:10:00",
        });
        using var _f = f;
        var admin = f.Admin();
        var token = await admin.CreateDeviceAsync("beat");
        await f.CheckInAsync(token, "hw1", "t", null);
        var first = (await admin.GetFromJsonAsync<JsonElement>("/api/v1/devices/beat")).GetProperty("lastSeen").GetDateTimeOffset();
        await Task.Delay(20); // last-seen has millisecond resolution; the second check-in must be later
        await f.CheckInAsync(token, "hw1", "t", null);
        Assert.Equal(first, (await admin.GetFromJsonAsync<JsonElement>("/api/v1/devices/beat")).GetProperty("lastSeen").GetDateTimeOffset());
        await f.Services.GetRequiredService<OtaServer.Devices.LastSeenWriter>().FlushAsync();
        var second = (await admin.GetFromJsonAsync<JsonElement>("/api/v1/devices/beat")).GetProperty("lastSeen").GetDateTimeOffset();
        Assert.True(second > first, $"{second:O} should be after {first:O}");
    }

    [Fact]
    public async Task DeletedDevice_TokenStopsWorking()
    {
        var (f, _, _) = FleetKit.Create();
        using var _f = f;
        var admin = f.Admin();
        var token = await admin.CreateDeviceAsync("gone");
        await f.CheckInAsync(token, "hw1", "t", null);
        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync("/api/v1/devices/gone")).StatusCode);
        using var client = f.CreateClient(token);
        var response = await client.PostAsync("/api/v1/devices/checkin", FleetKit.JsonBody(new { hardwareId = "hw1", tag = "t" }));
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }
}
