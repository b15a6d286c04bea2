using System.Net.Http.Json;
using System.Text.Json;
using OtaAgent;
using OtaServer.Tests.Workflow;
using Xunit.Abstractions;

namespace OtaServer.Tests.Agent;

/// <summary>The whole loop on a real sysroot: enrol, check in, pull 42 through the delta, deploy, reboot, confirm, report.</summary>
public sealed class AgentEndToEndTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Device_At22_EnrolsPullsTheDeltaDeploys42Reboots_AndConfirmsOk_AndTheWaveCountsItUpdated()
    {
        using var lab = await DeviceLab.StartAsync();
        var config = lab.Config("dev-1");
        // First check-in enrols the device (it is on 22, the promoted target: nothing to do).
        var (first, firstLog) = await DeviceLab.RunOnceAsync(config);
        Assert.True(first == CycleOutcome.UpToDate, firstLog);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(config.TokenPath));

        // The operator seeds 42 (deltas from 22) and rolls it out to this device in a wave.
        await lab.SeedAsync();
        await lab.Otactl("waves", "rollout", "w42", "--devices", "dev-1");
        var seen = lab.Factory.RepositoryGets().Count; // the image build's pull of 22

        var (outcome, log) = await DeviceLab.RunOnceAsync(config);
        output.WriteLine(log);
        Assert.True(outcome == CycleOutcome.RebootRequested, log);
        Assert.Contains("Delta part 0:", log);
        Assert.Contains("apply-offline", log);
        Assert.DoesNotContain("Pulling with ostree", log);
        // The server saw the delta's superblock and parts fetched, and not one loose object.
        var gets = lab.Factory.RepositoryGets().Skip(seen).ToList();
        Assert.Contains(gets, g => g.Path.StartsWith("deltas/", StringComparison.Ordinal) && g.Path.EndsWith("/superblock", StringComparison.Ordinal) && g.Status == 200);
        Assert.Contains(gets, g => g.Path.StartsWith("deltas/", StringComparison.Ordinal) && g.Path.EndsWith("/0", StringComparison.Ordinal) && g.Status == 200);
        Assert.DoesNotContain(gets, g => g.Path.StartsWith("objects/", StringComparison.Ordinal));
        Assert.Equal([lab.C42, lab.C22], lab.Deployments());
        lab.AssertDefaultBootable();
        Assert.Equal(1, lab.Reboots("dev-1"));
        Assert.Equal(0, OstreeCli.TryRun("--repo=" + config.RepoPath, "fsck").ExitCode);

        // After the (simulated) reboot the default deployment is the running one: the next cycle confirms it.
        var (after, afterLog) = await DeviceLab.RunOnceAsync(config);
        Assert.True(after == CycleOutcome.Updated, afterLog);
        var steps = (await lab.HistoryAsync("dev-1")).Select(e => e.GetProperty("step").GetString()!).ToArray();
        Assert.Equal(["download-started", "downloaded", "staged", "rebooted", "ok"], steps);

        var show = await lab.Otactl("devices", "show", "dev-1");
        output.WriteLine(show);
        foreach (var step in steps)
            Assert.Contains(step, show);
        var totals = (await lab.Admin.GetFromJsonAsync<JsonElement>("api/v1/waves/w42")).GetProperty("totals");
        Assert.Equal(1, totals.GetProperty("updated").GetInt32());
        Assert.Equal(0, totals.GetProperty("failed").GetInt32());
        // And a later cycle has nothing to do.
        Assert.Equal(CycleOutcome.UpToDate, (await DeviceLab.RunOnceAsync(config)).Outcome);
    }

    [Fact]
    public async Task ALinkCutThreeTimesDuringTheDelta_Resumes_AndTheDeviceReceivesAtMost1Point1TimesTheDelta()
    {
        using var lab = await DeviceLab.StartAsync();
        // Cut every 300 kB (three times): each cut lands inside the delta's one big part.
        using var proxy = new CuttingProxy(lab.Server, cutAfterBytes: 300_000, cuts: 3);
        var config = lab.Config("dev-1", proxy.Address);
        Assert.Equal(CycleOutcome.UpToDate, (await DeviceLab.RunOnceAsync(config)).Outcome);
        await lab.SeedAsync();
        await lab.Otactl("waves", "rollout", "w42", "--devices", "dev-1");
        var deltaBytes = lab.DeltaFileBytes();
        Assert.True(deltaBytes > DeviceLab.NewPayloadBytes / 2, $"the delta is {deltaBytes} bytes");
        var before = proxy.BytesToClient;
        var seen = lab.Factory.RepositoryGets().Count; // the image build's pull of 22

        var (outcome, log) = await DeviceLab.RunOnceAsync(config);
        output.WriteLine(log);
        var received = proxy.BytesToClient - before;
        output.WriteLine($"delta {deltaBytes} bytes; the device received {received} bytes ({(double)received / deltaBytes:0.000}×) over {proxy.Cuts} cuts");

        Assert.True(outcome == CycleOutcome.RebootRequested, log);
        Assert.Equal(3, proxy.Cuts);
        Assert.Equal(3, log.Split('\n').Count(l => l.Contains("transfer cut at byte")));
        Assert.True(received <= 1.1 * deltaBytes, $"received {received} bytes for a {deltaBytes}-byte delta");
        Assert.Equal(lab.C42, lab.Deployments()[0]);
        Assert.Equal(0, OstreeCli.TryRun("--repo=" + config.RepoPath, "fsck").ExitCode);
        // Resumed with Range (206), and no loose objects fetched.
        var gets = lab.Factory.RepositoryGets().Skip(seen).ToList();
        Assert.Equal(3, gets.Count(g => g.Path.EndsWith("/0", StringComparison.Ordinal) && g.Status == 206));
        Assert.DoesNotContain(gets, g => g.Path.StartsWith("objects/", StringComparison.Ordinal));
        var downloaded = (await lab.HistoryAsync("dev-1")).Single(e => e.GetProperty("step").GetString() == "downloaded");
        // The agent's own count (response bodies it read, cut transfers included) says the same.
        Assert.True(downloaded.GetProperty("bytes").GetInt64() <= deltaBytes, downloaded.ToString());
    }

    /// <summary>
    /// The measurement behind the agent's own delta download: over the same link, cut the same way, the ostree
    /// 2022.7 client fails the pull at each cut and, run again, fetches the cut part from its first byte,
    /// so it receives far more than the delta.
    /// </summary>
    [Fact]
    public async Task Measured_OstreePullOverTheSameCutLink_RestartsTheCutPart_AndReceivesMoreThan1Point1TimesTheDelta()
    {
        using var lab = await DeviceLab.StartAsync();
        Assert.Equal(CycleOutcome.UpToDate, (await DeviceLab.RunOnceAsync(lab.Config("dev-1"))).Outcome);
        await lab.SeedAsync();
        var deltaBytes = lab.DeltaFileBytes();
        var client = lab.Tmp.Combine("ostree-client");
        OstreeCli.Run("init", "--repo=" + client, "--mode=bare-user");
        OstreeCli.Run("--repo=" + client, "remote", "add", "--no-gpg-verify", "direct", new Uri(lab.Server, "repos/main").ToString());
        OstreeCli.Run("--repo=" + client, "pull", "direct", lab.C22);
        using var proxy = new CuttingProxy(lab.Server, cutAfterBytes: 300_000, cuts: 3);
        OstreeCli.Run("--repo=" + client, "remote", "add", "--no-gpg-verify", "cut", new Uri(proxy.Address, "repos/main").ToString());

        // 2022.7 does not retry a cut transfer ("[18] Transferred a partial file" fails the pull): an agent that
        // relied on ostree pull would run it again in its next cycle, as here.
        var attempts = new List<string>();
        OstreeCli.Result pull;
        do
        {
            pull = OstreeCli.TryRun("--repo=" + client, "pull", "--require-static-deltas", "--network-retries=5", "cut", lab.C42);
            attempts.Add($"exit {pull.ExitCode}: {pull.StdErr.Trim()}");
        }
        while (pull.ExitCode != 0 && attempts.Count < 6);
        output.WriteLine($"delta {deltaBytes} bytes; ostree received {proxy.BytesToClient} bytes ({(double)proxy.BytesToClient / deltaBytes:0.000}×) over {proxy.Cuts} cuts in {attempts.Count} pulls\n{string.Join('\n', attempts)}");

        Assert.True(pull.ExitCode == 0, pull.StdErr);
        Assert.Equal(3, proxy.Cuts);
        Assert.Equal(4, attempts.Count);
        Assert.All(attempts.Take(3), a => Assert.Contains("Transferred a partial file", a));
        Assert.Equal(0, OstreeCli.TryRun("--repo=" + client, "fsck").ExitCode);
        Assert.True(proxy.BytesToClient > 1.1 * deltaBytes, $"ostree received {proxy.BytesToClient} bytes for a {deltaBytes}-byte delta");
    }
}
