using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using OtaServer.Tests.Infrastructure;
using OtaServer.Tests.Workflow;

namespace OtaServer.Tests.Fleet;

/// <summary>Issue 10, acceptance 1: versions only go up unless an operator orders a rollback.</summary>
public sealed class MonotonicUpdateTests
{
    [Fact]
    public async Task CancelledWave_ThenNewWave_NeverOffersTheUpdatedDeviceALowerVersion_UntilAnExplicitRollback()
    {
        var (f, content, deltas) = FleetKit.Create();
        using var _f = f;
        var server = f.StartKestrel();
        using var admin = new HttpClient { BaseAddress = server };
        admin.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", OtaServerFactory.AdminToken);
        string c41 = content.AddCommit(41), c42 = content.AddCommit(42), c43 = content.AddCommit(43);
        foreach (var (v, c) in new[] { (41L, c41), (42L, c42), (43L, c43) })
            await admin.CreateTargetAsync(v, c);
        foreach (var (from, to) in new[] { (c41, c42), (c41, c43), (c42, c43) })
            deltas.Deltas[(from, to)] = new("main", from, to, 1, 1, 1, 0, 0, 1, 0, "fake", DateTimeOffset.UtcNow);
        async Task Otactl(params string[] args)
        {
            var (exit, stdout, stderr) = await FleetKit.OtactlAsync(server, args);
            Assert.True(exit == 0, $"otactl {string.Join(' ', args)} → {exit}\n{stdout}\n{stderr}");
        }
        await Otactl("targets", "tag", "--by-version", "41", "-T", "promoted");

        var tokens = new Dictionary<string, string>();
        foreach (var name in new[] { "b1", "b2", "p1" })
        {
            tokens[name] = await admin.CreateDeviceAsync(name, "hw1");
            await Otactl("devices", "set-group", name, name.StartsWith('b') ? "beta" : "prod");
        }
        async Task<JsonElement> CheckIn(string name, string commit, object? lastUpdate = null)
        {
            using var http = new HttpClient { BaseAddress = server };
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", tokens[name]);
            return await http.PostOkAsync("api/v1/devices/checkin", new { hardwareId = "hw1", tag = "promoted", currentCommit = commit, lastUpdate });
        }
        static long Offered(JsonElement answer) => answer.GetProperty("target").GetProperty("version").GetInt64();
        foreach (var name in tokens.Keys)
            await CheckIn(name, c41);

        await Otactl("waves", "init", "w42", "42", "promoted");
        await Otactl("waves", "rollout", "w42", "--group", "beta");
        var toB1 = await CheckIn("b1", c41);
        Assert.Equal(42, Offered(toB1));
        Assert.True(toB1.GetProperty("updateAvailable").GetBoolean());
        await CheckIn("b1", c42, new { version = 42, result = "ok" });
        await Otactl("waves", "cancel", "w42");

        // Before the new wave: b1 stays on 42, b2 (scheduled, never updated) and p1 keep the tag's 41.
        var b1 = await CheckIn("b1", c42);
        Assert.False(b1.GetProperty("updateAvailable").GetBoolean());
        Assert.Equal(42, Offered(b1));
        Assert.Equal(41, Offered(await CheckIn("b2", c41)));
        Assert.Equal(41, Offered(await CheckIn("p1", c41)));

        await Otactl("waves", "init", "w43", "43", "promoted");
        for (var i = 0; i < 2; i++)
        {
            b1 = await CheckIn("b1", c42);
            Assert.False(b1.GetProperty("updateAvailable").GetBoolean(), b1.ToString());
            Assert.Equal(42, Offered(b1));
            Assert.Contains("lower than version 42", b1.GetProperty("reason").GetString());
            Assert.Equal(JsonValueKind.Null, b1.GetProperty("delta").ValueKind);
        }
        var b2 = await CheckIn("b2", c41);
        Assert.Equal(41, Offered(b2));
        Assert.False(b2.GetProperty("updateAvailable").GetBoolean());

        // The explicit rollback: refused upwards, then ordered, offered, done and shown.
        var (upExit, _, upErr) = await FleetKit.OtactlAsync(server, "devices", "rollback", "b1", "43");
        Assert.Equal(OtaCtl.ExitCodes.Conflict, upExit);
        Assert.Contains("lower version", upErr);
        await Otactl("devices", "rollback", "b1", "41", "--reason", "42 drains the battery");
        var shown = await admin.GetFromJsonAsync<JsonElement>("api/v1/devices/b1");
        Assert.Equal(41, shown.GetProperty("rollback").GetProperty("version").GetInt64());
        Assert.Equal("pending", shown.GetProperty("rollback").GetProperty("state").GetString());
        b1 = await CheckIn("b1", c42);
        Assert.True(b1.GetProperty("updateAvailable").GetBoolean());
        Assert.Equal(41, Offered(b1));
        Assert.Equal("pending", b1.GetProperty("rollback").GetProperty("state").GetString());
        Assert.Contains("42 drains the battery", b1.GetProperty("reason").GetString());
        b1 = await CheckIn("b1", c41, new { version = 41, result = "ok" });
        Assert.False(b1.GetProperty("updateAvailable").GetBoolean());
        Assert.Equal("done", b1.GetProperty("rollback").GetProperty("state").GetString());
        shown = await admin.GetFromJsonAsync<JsonElement>("api/v1/devices/b1");
        Assert.Equal("done", shown.GetProperty("rollback").GetProperty("state").GetString());
        Assert.Equal(41, shown.GetProperty("currentVersion").GetInt64());
        // The order is in the device's update history (API and otactl devices show).
        var history = await admin.GetFromJsonAsync<JsonElement>("api/v1/devices/b1/updates");
        Assert.Contains(history.EnumerateArray(), e => e.GetProperty("step").GetString() == "rollback-ordered" &&
            e.GetProperty("targetVersion").GetInt64() == 41 && e.GetProperty("detail").GetString() == "42 drains the battery");
        var (_, showOut, _) = await FleetKit.OtactlAsync(server, "devices", "show", "b1");
        Assert.Contains("rollback-ordered", showOut);
        var (_, waveOut, _) = await FleetKit.OtactlAsync(server, "waves", "status", "w43");
        Assert.Contains("Rollback: b1 to version 41 (done", waveOut);
        var waveStatus = await admin.GetFromJsonAsync<JsonElement>("api/v1/waves/w43");
        Assert.Equal("b1", waveStatus.GetProperty("rollbacks").EnumerateArray().Single().GetProperty("device").GetString());
        // Back on 41, b1 follows the tag again (41); the cancelled wave does not pull it up to 42.
        Assert.Equal(41, Offered(await CheckIn("b1", c41)));
    }

    [Fact]
    public async Task Rollback_OfAnUnknownDeviceOrVersion_IsA404()
    {
        var (f, content, _) = FleetKit.Create();
        using var _f = f;
        using var admin = f.Admin();
        await admin.CreateTargetAsync(41, content.AddCommit(41));
        await admin.CreateDeviceAsync("d1", "hw1");
        using var noDevice = await admin.PostAsync("/api/v1/devices/nope/rollback", FleetKit.JsonBody(new { version = 41 }));
        Assert.Equal(HttpStatusCode.NotFound, noDevice.StatusCode);
        using var noVersion = await admin.PostAsync("/api/v1/devices/d1/rollback", FleetKit.JsonBody(new { version = 7 }));
        Assert.Equal(HttpStatusCode.NotFound, noVersion.StatusCode);
        using var noOrder = await admin.DeleteAsync("/api/v1/devices/d1/rollback");
        Assert.Equal(HttpStatusCode.NotFound, noOrder.StatusCode);
    }
}
