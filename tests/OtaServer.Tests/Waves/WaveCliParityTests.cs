using OtaServer.Tests.Workflow;

namespace OtaServer.Tests.Waves;

/// <summary>fioctl-style conveniences of <c>otactl waves</c>: device files, percentage limits, open-wave status, rollout history.</summary>
public sealed class WaveCliParityTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("wave-cli-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task Otactl_RolloutDevicesFromFile_LimitPercent_StatusOfOpenWaves_AndShowHistory()
    {
        var (f, content, deltas) = FleetKit.Create();
        using var _f = f;
        var server = f.StartKestrel();
        var admin = new HttpClient { BaseAddress = server };
        admin.DefaultRequestHeaders.Authorization = new("Bearer", Infrastructure.OtaServerFactory.AdminToken);
        await admin.CreateTargetAsync(22, content.AddCommit(22), tags: ["production"]);
        await admin.CreateTargetAsync(42, content.AddCommit(42));
        foreach (var name in new[] { "d1", "d2", "d3", "d4" })
        {
            var token = await admin.CreateDeviceAsync(name, "hw1");
            using var device = new HttpClient { BaseAddress = server };
            device.DefaultRequestHeaders.Authorization = new("Bearer", token);
            await device.PostOkAsync("api/v1/devices/checkin", new { hardwareId = "hw1", tag = "production", currentCommit = FleetKit.Commit(22) });
        }
        deltas.Deltas[(FleetKit.Commit(22), FleetKit.Commit(42))] = new("main", FleetKit.Commit(22), FleetKit.Commit(42), 1, 1, 1, 0, 0, 1, 0, "fake", DateTimeOffset.UtcNow);
        Assert.Equal(0, (await FleetKit.OtactlAsync(server, "waves", "init", "w", "42", "production")).Exit);

        var none = await FleetKit.OtactlAsync(server, "waves", "status");
        Assert.True(none.Exit == 0, none.Err);
        Assert.StartsWith("Wave w: version 42 on tag production, Active", none.Out);

        var file = Path.Combine(_dir, "devices.txt");
        await File.WriteAllTextAsync(file, "d1;\n  d3,\td1\n");
        var fromFile = await FleetKit.OtactlAsync(server, "waves", "rollout", "w", "--devices", "@" + file);
        Assert.True(fromFile.Exit == 0, fromFile.Err);
        Assert.Equal("Step 1 scheduled 2 device(s) (wave Active):\n   d1\n   d3\n", fromFile.Out.ReplaceLineEndings("\n"));

        var missing = await FleetKit.OtactlAsync(server, "waves", "rollout", "w", "--devices", "@" + Path.Combine(_dir, "absent.txt"));
        Assert.Equal(OtaCtl.ExitCodes.Usage, missing.Exit);
        Assert.Contains("Cannot read the device list", missing.Err);
        var badLimit = await FleetKit.OtactlAsync(server, "waves", "rollout", "w", "--limit", "half");
        Assert.Equal(OtaCtl.ExitCodes.Usage, badLimit.Exit);
        Assert.Contains("neither a device count", badLimit.Err);

        // 75% of the 4 devices in scope is 3; 2 are scheduled already, so one more.
        var percent = await FleetKit.OtactlAsync(server, "waves", "rollout", "w", "--limit", "75%");
        Assert.True(percent.Exit == 0, percent.Err);
        Assert.StartsWith("Step 2 scheduled 1 device(s)", percent.Out);

        var show = await FleetKit.OtactlAsync(server, "waves", "show", "w");
        Assert.True(show.Exit == 0, show.Err);
        var rows = show.Out.ReplaceLineEndings("\n").Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.StartsWith("Wave w: version 42 on tag production, Active", rows[0]);
        var steps = rows.SkipWhile(r => !r.StartsWith("STEP")).Skip(1).Select(r => r.Split(' ', StringSplitOptions.RemoveEmptyEntries)).ToList();
        Assert.Equal(2, steps.Count);
        Assert.Equal(["1", "2"], steps.Select(s => s[0]));
        Assert.Equal(["2", "1"], steps.Select(s => s[^1]));
        Assert.Equal(["admin", "admin"], steps.Select(s => s[1]));

        Assert.Equal(0, (await FleetKit.OtactlAsync(server, "waves", "cancel", "w")).Exit);
        var closed = await FleetKit.OtactlAsync(server, "waves", "status");
        Assert.True(closed.Exit == 0, closed.Err);
        Assert.StartsWith("No open wave", closed.Out);
    }
}
