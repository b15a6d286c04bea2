using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using OtaAgent;
using OtaServer.Tests.Workflow;

namespace OtaServer.Tests.Agent;

public sealed class AgentTests
{
    /// <summary>An empty sysroot (init-fs + os-init), as a freshly imaged device before its first deployment.</summary>
    private static string MakeSysroot(TempDirectory tmp)
    {
        var s = tmp.Combine("sysroot");
        Directory.CreateDirectory(s);
        OstreeCli.Run("admin", "init-fs", "--modern", s);
        OstreeCli.Run("admin", "--sysroot=" + s, "os-init", "lmp");
        return s;
    }

    private static AgentConfig Config(TempDirectory tmp, string sysroot, Uri server, string? registrationToken = null, long margin = 0) => new()
    {
        Server = server.ToString(),
        RegistrationToken = registrationToken,
        DeviceName = "dev-1",
        HardwareId = "hw1",
        Tag = "production",
        Sysroot = sysroot,
        OsName = "lmp",
        StateDir = tmp.Combine("state"),
        RebootCommand = "touch " + tmp.Combine("rebooted"),
        FreeSpaceMarginBytes = margin,
    };

    private static string[] ObjectFiles(string sysroot) =>
        [.. Directory.EnumerateFiles(Path.Combine(sysroot, "ostree", "repo", "objects"), "*", SearchOption.AllDirectories)];

    [Fact]
    public async Task RunOnce_WithTooLittleFreeSpace_ReportsNoSpace_AndPullsAndDeploysNothing()
    {
        using var tmp = new TempDirectory("agent");
        var sysroot = MakeSysroot(tmp);
        var (f, content, _) = FleetKit.Create();
        using var _f = f;
        var server = f.StartKestrel();
        using var admin = new HttpClient { BaseAddress = server };
        admin.DefaultRequestHeaders.Authorization = new("Bearer", Infrastructure.OtaServerFactory.AdminToken);
        await admin.CreateTargetAsync(42, content.AddCommit(42), tags: ["production"]);
        var registration = (await admin.PostOkAsync("api/v1/devices/registration-tokens", new { tag = "production" })).GetProperty("token").GetString()!;
        // A configured limit: keep more free than any disk has.
        var config = Config(tmp, sysroot, server, registration, margin: long.MaxValue / 4);

        var log = new StringWriter();
        using (var agent = new OtaAgent.Agent(config, log))
            Assert.Equal(CycleOutcome.NoSpace, await agent.RunOnceAsync(CancellationToken.None));

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(config.TokenPath));
        var history = await admin.GetFromJsonAsync<JsonElement>("api/v1/devices/dev-1/updates");
        var entry = Assert.Single(history.EnumerateArray());
        Assert.Equal("no-space", entry.GetProperty("step").GetString());
        Assert.Equal(42, entry.GetProperty("targetVersion").GetInt64());
        Assert.Contains("free on", entry.GetProperty("detail").GetString());
        Assert.Empty(ObjectFiles(sysroot));
        var deployDir = Path.Combine(sysroot, "ostree", "deploy", "lmp", "deploy");
        Assert.True(!Directory.Exists(deployDir) || !Directory.EnumerateFileSystemEntries(deployDir).Any(), "nothing deployed");
        Assert.False(File.Exists(tmp.Combine("rebooted")));
    }

    public static TheoryData<string> BrokenAnswers => ["down", "500", "garbage", "huge"];

    [Theory]
    [MemberData(nameof(BrokenAnswers))]
    public async Task RunOnce_AgainstABrokenServer_ChangesNothing_BacksOff_AndRecoversWhenTheServerDoes(string broken)
    {
        using var tmp = new TempDirectory("agent");
        var sysroot = MakeSysroot(tmp);
        var (f, content, _) = FleetKit.Create();
        using var _f = f;
        var real = f.StartKestrel();
        using var admin = new HttpClient { BaseAddress = real };
        admin.DefaultRequestHeaders.Authorization = new("Bearer", Infrastructure.OtaServerFactory.AdminToken);
        await admin.CreateTargetAsync(42, content.AddCommit(42), tags: ["production"]);
        var token = await admin.CreateDeviceAsync("dev-1", "hw1", "production");

        Uri brokenServer;
        WebApplication? app = null;
        if (broken == "down")
        {
            using var probe = new TcpListener(System.Net.IPAddress.Loopback, 0);
            probe.Start();
            brokenServer = new Uri($"http://127.0.0.1:{((System.Net.IPEndPoint)probe.LocalEndpoint).Port}/");
            probe.Stop(); // nothing listens there any more
        }
        else
        {
            var b = WebApplication.CreateSlimBuilder();
            b.WebHost.UseUrls("http://127.0.0.1:0");
            app = b.Build();
            app.Run(async ctx =>
            {
                switch (broken)
                {
                    case "500":
                        ctx.Response.StatusCode = 500;
                        await ctx.Response.WriteAsync("oops");
                        break;
                    case "garbage":
                        ctx.Response.ContentType = "application/json";
                        await ctx.Response.WriteAsync("{\"updateAvailable\": tru");
                        break;
                    default:
                        ctx.Response.ContentType = "application/json";
                        await ctx.Response.WriteAsync("{\"updateAvailable\":true,\"x\":\"" + new string('a', 10 * 1024 * 1024) + "\"}");
                        break;
                }
            });
            await app.StartAsync();
            brokenServer = new Uri(app.Urls.First() + "/");
        }
        try
        {
            var config = Config(tmp, sysroot, brokenServer);
            Directory.CreateDirectory(config.StateDir);
            await File.WriteAllTextAsync(config.TokenPath, token);
            var log = new StringWriter();
            using (var agent = new OtaAgent.Agent(config, log))
                Assert.Equal(CycleOutcome.ServerProblem, await agent.RunOnceAsync(CancellationToken.None));
            Assert.Contains("Server problem, nothing changed", log.ToString());
            Assert.Empty(ObjectFiles(sysroot));
            Assert.False(File.Exists(tmp.Combine("rebooted")));
            Assert.False(File.Exists(Path.Combine(config.StateDir, "pending.json")));
            // Back-off: after server problems the wait grows from 30 s to at most an hour, not the normal interval.
            Assert.Equal(TimeSpan.FromSeconds(30), AgentCli.NextDelay(300, 1, 0.5));
            Assert.Equal(TimeSpan.FromSeconds(120), AgentCli.NextDelay(300, 3, 0.5));
            Assert.Equal(TimeSpan.FromSeconds(3600), AgentCli.NextDelay(300, 30, 0.5));

            // The server is back: the same device checks in and goes on (here it stops at the space check).
            using var recovered = new OtaAgent.Agent(config with { Server = real.ToString(), FreeSpaceMarginBytes = long.MaxValue / 4 }, log);
            Assert.Equal(CycleOutcome.NoSpace, await recovered.RunOnceAsync(CancellationToken.None));
        }
        finally
        {
            if (app is not null)
                await app.DisposeAsync();
        }
    }

    /// <summary>A bootable-shaped commit (kernel and initramfs under usr/lib/modules/VERSION/, os-release) in the sysroot's repository.</summary>
    private static string CommitBootable(TempDirectory tmp, string sysroot, long version)
    {
        var tree = tmp.Combine("tree-" + version);
        var modules = Path.Combine(tree, "usr", "lib", "modules", "6.1.0");
        Directory.CreateDirectory(modules);
        Directory.CreateDirectory(Path.Combine(tree, "usr", "etc"));
        File.WriteAllText(Path.Combine(modules, "vmlinuz"), "kernel " + version);
        File.WriteAllText(Path.Combine(modules, "initramfs.img"), "initramfs " + version);
        File.WriteAllText(Path.Combine(tree, "usr", "etc", "os-release"), $"ID=lmp\nPRETTY_NAME=\"LmP {version}\"\nVERSION_ID={version}\n");
        return OstreeCli.Run("--repo=" + Path.Combine(sysroot, "ostree", "repo"), "commit", "-b", "lmp", $"--tree=dir={tree}", $"--subject=v{version}").Trim();
    }

    private static string DefaultDeployment(string sysroot)
    {
        var status = OstreeCli.Run("admin", "--sysroot=" + sysroot, "status");
        return System.Text.RegularExpressions.Regex.Match(status, "lmp ([0-9a-f]{64})\\.").Groups[1].Value;
    }

    [Fact]
    public async Task AfterTheReboot_AFailingHealthCheck_RollsTheSysrootBackTo22_AndReportsFailed()
    {
        using var tmp = new TempDirectory("agent");
        var sysroot = MakeSysroot(tmp);
        var c22 = CommitBootable(tmp, sysroot, 22);
        var c42 = CommitBootable(tmp, sysroot, 42);
        OstreeCli.Run("admin", "--sysroot=" + sysroot, "deploy", "--os=lmp", c22);
        // What the agent leaves behind when it staged 42 and rebooted: 42 deployed as the default, the pending record.
        OstreeCli.Run("admin", "--sysroot=" + sysroot, "deploy", "--os=lmp", c42);
        Assert.Equal(c42, DefaultDeployment(sysroot));
        var (f, _, _) = FleetKit.Create();
        using var _f = f;
        var server = f.StartKestrel();
        using var admin = new HttpClient { BaseAddress = server };
        admin.DefaultRequestHeaders.Authorization = new("Bearer", Infrastructure.OtaServerFactory.AdminToken);
        var token = await admin.CreateDeviceAsync("dev-1", "hw1", "production");
        var config = Config(tmp, sysroot, server) with { HealthCheckCommand = "echo 'app did not start' >&2; exit 3" };
        Directory.CreateDirectory(config.StateDir);
        await File.WriteAllTextAsync(config.TokenPath, token);
        await File.WriteAllTextAsync(Path.Combine(config.StateDir, "pending.json"), $"{{\"version\":42,\"commit\":\"{c42}\",\"previousCommit\":\"{c22}\"}}");

        try
        {
            var log = new StringWriter();
            using (var agent = new OtaAgent.Agent(config, log))
                Assert.Equal(CycleOutcome.Failed, await agent.RunOnceAsync(CancellationToken.None));

            Assert.Equal(c22, DefaultDeployment(sysroot));
            Assert.True(File.Exists(tmp.Combine("rebooted")), "the agent reboots into 22");
            Assert.Equal(0, OstreeCli.TryRun("--repo=" + config.RepoPath, "fsck").ExitCode);
            var history = (await admin.GetFromJsonAsync<JsonElement>("api/v1/devices/dev-1/updates")).EnumerateArray().ToArray();
            Assert.Equal(["rebooted", "failed"], history.Select(e => e.GetProperty("step").GetString()));
            Assert.Contains("health check failed (exit 3): app did not start", history[1].GetProperty("detail").GetString());
        }
        finally
        {
            foreach (var d in Directory.EnumerateDirectories(Path.Combine(sysroot, "ostree", "deploy", "lmp", "deploy")))
                OstreeCli.Exec("chattr", "-i", d);
        }
    }
}

public sealed class WaveNoSpaceTests
{
    [Fact]
    public async Task WaveTotals_CountNoSpaceApartFromFailures()
    {
        var (f, content, deltas) = FleetKit.Create();
        using var _f = f;
        var server = f.StartKestrel();
        using var admin = new HttpClient { BaseAddress = server };
        admin.DefaultRequestHeaders.Authorization = new("Bearer", Infrastructure.OtaServerFactory.AdminToken);
        await admin.CreateTargetAsync(22, content.AddCommit(22), tags: ["production"]);
        await admin.CreateTargetAsync(42, content.AddCommit(42));
        var tokens = new Dictionary<string, string>();
        foreach (var name in new[] { "full", "broken" })
        {
            tokens[name] = await admin.CreateDeviceAsync(name, "hw1");
            await f.CheckInAsync(tokens[name], "hw1", "production", FleetKit.Commit(22));
        }
        deltas.Deltas[(FleetKit.Commit(22), FleetKit.Commit(42))] = new("main", FleetKit.Commit(22), FleetKit.Commit(42), 1, 1, 1, 0, 0, 1, 0, "fake", DateTimeOffset.UtcNow);
        Assert.Equal(0, (await FleetKit.OtactlAsync(server, "waves", "init", "w", "42", "production")).Exit);
        Assert.Equal(0, (await FleetKit.OtactlAsync(server, "waves", "rollout", "w", "--devices", "full,broken")).Exit);
        foreach (var (name, result) in new[] { ("full", "no-space"), ("broken", "failed") })
        {
            using var device = new HttpClient { BaseAddress = server };
            device.DefaultRequestHeaders.Authorization = new("Bearer", tokens[name]);
            await device.PostOkAsync("api/v1/devices/checkin", new { hardwareId = "hw1", tag = "production", currentCommit = FleetKit.Commit(22), lastUpdate = new { version = 42, result } });
        }
        var totals = (await admin.GetFromJsonAsync<JsonElement>("api/v1/waves/w")).GetProperty("totals");
        Assert.Equal(1, totals.GetProperty("noSpace").GetInt32());
        Assert.Equal(1, totals.GetProperty("failed").GetInt32());
    }
}
