using OtaServer.Tests.Workflow;

namespace OtaServer.Tests.Waves;

public sealed class WaveCliTests
{
    [Fact]
    public async Task Otactl_WavesInitRolloutStatusComplete_AndDevicesSetGroup()
    {
        var (f, content, deltas) = FleetKit.Create();
        using var _f = f;
        var server = f.StartKestrel();
        var admin = new HttpClient { BaseAddress = server };
        admin.DefaultRequestHeaders.Authorization = new("Bearer", Infrastructure.OtaServerFactory.AdminToken);
        await admin.CreateTargetAsync(22, content.AddCommit(22), tags: ["production"]);
        await admin.CreateTargetAsync(42, content.AddCommit(42));
        foreach (var name in new[] { "b1", "p1", "p2" })
        {
            var token = await admin.CreateDeviceAsync(name, "hw1");
            using var device = new HttpClient { BaseAddress = server };
            device.DefaultRequestHeaders.Authorization = new("Bearer", token);
            await device.PostOkAsync("api/v1/devices/checkin", new { hardwareId = "hw1", tag = "production", currentCommit = FleetKit.Commit(22) });
            var (exit, stdout, _) = await FleetKit.OtactlAsync(server, "devices", "set-group", name, name.StartsWith('b') ? "beta" : "prod");
            Assert.Equal(0, exit);
            Assert.Contains("in group", stdout);
        }

        var refused = await FleetKit.OtactlAsync(server, "waves", "init", "w", "42", "production");
        Assert.Equal(OtaCtl.ExitCodes.Conflict, refused.Exit);
        Assert.Contains("22 -> 42 (3 devices)", refused.Err);

        deltas.Deltas[(FleetKit.Commit(22), FleetKit.Commit(42))] = new("main", FleetKit.Commit(22), FleetKit.Commit(42), 1, 1, 1, 0, 0, 1, 0, "fake", DateTimeOffset.UtcNow);
        Assert.Equal(0, (await FleetKit.OtactlAsync(server, "waves", "init", "w", "42", "production")).Exit);
        var dry = await FleetKit.OtactlAsync(server, "waves", "rollout", "w", "--group", "beta", "--dry-run");
        Assert.True(dry.Exit == 0, dry.Err);
        Assert.Equal("Dry run: step 1 would schedule 1 device(s):\n   b1\n", dry.Out.ReplaceLineEndings("\n"));
        var step = await FleetKit.OtactlAsync(server, "waves", "rollout", "w", "--group", "beta");
        Assert.Contains("Step 1 scheduled 1 device(s)", step.Out);
        var status = await FleetKit.OtactlAsync(server, "waves", "status", "w");
        var rows = status.Out.ReplaceLineEndings("\n").Split('\n');
        Assert.Contains(rows, r => r.StartsWith("beta") && r.Split(' ', StringSplitOptions.RemoveEmptyEntries).SequenceEqual(["beta", "1", "1", "0", "0", "1"]));
        Assert.Contains(rows, r => r.StartsWith("TOTAL") && r.Split(' ', StringSplitOptions.RemoveEmptyEntries).SequenceEqual(["TOTAL", "3", "1", "0", "0", "1"]));
        var done = await FleetKit.OtactlAsync(server, "waves", "complete", "w");
        Assert.Contains("Completed", done.Out);
        var list = await FleetKit.OtactlAsync(server, "devices", "list");
        Assert.Contains("prod", list.Out);
    }
}
