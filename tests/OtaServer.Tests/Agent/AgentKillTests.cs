using System.Diagnostics;
using System.Text.Json;
using OtaAgent;
using Xunit.Abstractions;

namespace OtaServer.Tests.Agent;

/// <summary>Acceptance 4: <c>kill -9</c> of the agent (and the ostree it runs) during the pull and during the deploy.</summary>
public sealed class AgentKillTests(ITestOutputHelper output)
{
    /// <summary>
    /// Runs <c>ota-agent run-once</c> as its own process group (setsid) and, when a line of its output contains
    /// <paramref name="trigger"/>, kills the whole group with SIGKILL: the agent and the ostree child it waits on.
    /// Returns whether the kill happened (false: the cycle ended first) and the output.
    /// </summary>
    private static async Task<(bool Killed, int? Exit, string Output)> RunAndKillAsync(string configFile, string trigger)
    {
        var dll = typeof(OtaAgent.Agent).Assembly.Location;
        var psi = new ProcessStartInfo("setsid") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "dotnet", dll, "run-once", "--config", configFile })
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        var log = new System.Text.StringBuilder();
        var killed = false;
        while (await p.StandardOutput.ReadLineAsync() is { } line)
        {
            log.AppendLine(line);
            if (!killed && line.Contains(trigger, StringComparison.Ordinal))
            {
                Assert.Equal(0, OstreeCli.Exec("kill", "-KILL", "--", "-" + p.Id).ExitCode);
                killed = true;
            }
        }
        await p.WaitForExitAsync();
        log.Append(await stderr);
        return (killed, killed ? null : p.ExitCode, log.ToString());
    }

    [Fact]
    public async Task KilledThreeTimesDuringThePullAndThreeTimesDuringTheDeploy_TheSysrootStaysBootableAndClean_AndTheNextCycleCompletes()
    {
        using var lab = await DeviceLab.StartAsync();
        var config = lab.Config("dev-1");
        Assert.Equal(CycleOutcome.UpToDate, (await DeviceLab.RunOnceAsync(config)).Outcome);
        await lab.SeedAsync();
        await lab.Otactl("waves", "rollout", "w42", "--devices", "dev-1");
        var configFile = lab.Tmp.Combine("agent.json");
        await File.WriteAllTextAsync(configFile, JsonSerializer.Serialize(config, AgentJson.Default.AgentConfig));

        // During the pull: once while the delta downloads, twice while ostree writes it into the repository.
        var plan = new[] { "Delta ", "Applying the delta", "Applying the delta", "Deploying", "Deploying", "Deploying" };
        var kills = new List<string>();
        foreach (var trigger in plan)
        {
            var (killed, exit, log) = await RunAndKillAsync(configFile, trigger);
            output.WriteLine($"--- kill at '{trigger}': {(killed ? "killed" : $"not reached, exit {exit}")}\n{log}");
            var deployments = lab.Deployments();
            output.WriteLine("deployments: " + string.Join(", ", deployments.Select(d => d == lab.C22 ? "22" : d == lab.C42 ? "42" : d)));
            Assert.All(deployments, d => Assert.Contains(d, new[] { lab.C22, lab.C42 }));
            Assert.Contains(deployments[0], new[] { lab.C22, lab.C42 });
            lab.AssertDefaultBootable();
            var fsck = OstreeCli.TryRun("--repo=" + config.RepoPath, "fsck");
            Assert.True(fsck.ExitCode == 0, fsck.StdOut + fsck.StdErr);
            if (!killed)
            {
                // A kill that left 42 deployed is carried on from the sysroot: the cycle stages and reboots without deploying again.
                Assert.Equal((int)CycleOutcome.RebootRequested, exit);
                break;
            }
            kills.Add(trigger);
        }
        output.WriteLine($"kills: {string.Join(" | ", kills)}");
        Assert.Equal(3, kills.Count(k => k != "Deploying"));
        Assert.Contains("Deploying", kills);

        // The next cycles complete the update: staged (if not already) and, after the simulated reboot, confirmed.
        var outcome = (await DeviceLab.RunOnceAsync(config)).Outcome;
        if (outcome == CycleOutcome.RebootRequested)
            outcome = (await DeviceLab.RunOnceAsync(config)).Outcome;
        Assert.Equal(CycleOutcome.Updated, outcome);
        Assert.Equal(lab.C42, lab.Deployments()[0]);
        lab.AssertDefaultBootable();
        Assert.Equal(0, OstreeCli.TryRun("--repo=" + config.RepoPath, "fsck").ExitCode);
        var steps = (await lab.HistoryAsync("dev-1")).Select(e => e.GetProperty("step").GetString()!).ToArray();
        Assert.Equal("ok", steps[^1]);
        Assert.False(Directory.Exists(Path.Combine(config.StateDir, "downloads")) && Directory.EnumerateFileSystemEntries(Path.Combine(config.StateDir, "downloads")).Any(),
            "the delta download is cleaned up once applied");
    }
}
