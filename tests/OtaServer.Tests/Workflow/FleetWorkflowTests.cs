using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using OtaServer.Deltas;
using OtaServer.Repositories;
using OtaServer.Tests.Infrastructure;

namespace OtaServer.Tests.Workflow;

/// <summary>
/// The operator's workflow of the fleet issue, driven through otactl against a real Kestrel port:
/// targets 22, 32, 42; devices A and B follow promoted on 22, C follows promoted on 32, D follows devel on 32;
/// dry run, generation with the log tailed to its final status, tagging, and check-ins.
/// </summary>
public sealed class FleetWorkflowTests
{
    private sealed record Fleet(Uri Server, Dictionary<string, string> Tokens, Dictionary<long, string> Commits);

    private static HttpClient Client(Uri server, string token)
    {
        var http = new HttpClient { BaseAddress = server };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return http;
    }

    private static async Task<JsonElement> CheckInAsync(Fleet fleet, string device, string tag, long version)
    {
        using var http = Client(fleet.Server, fleet.Tokens[device]);
        var response = await http.PostAsJsonAsync("api/v1/devices/checkin", new { hardwareId = "hw1", tag, currentCommit = fleet.Commits[version] });
        response.EnsureSuccessStatusCode();
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    private static async Task<string> OtactlOkAsync(Uri server, params string[] args)
    {
        var (exit, stdout, stderr) = await FleetKit.OtactlAsync(server, args);
        Assert.True(exit == 0, $"otactl {string.Join(' ', args)} exited {exit}\n{stdout}\n{stderr}");
        return stdout;
    }

    /// <summary>Acceptance 1 (up to generation) and 2, given the commits of versions 22, 32 and 42 in the server's repository.</summary>
    private static async Task<Fleet> RunWorkflowAsync(Uri server, Dictionary<long, string> commits)
    {
        foreach (var (version, tags) in new[] { (22L, "promoted"), (32L, "promoted,devel"), (42L, "") })
        {
            var args = new List<string> { "targets", "create", "--version", version.ToString(), "--ref", "main", "--commit", commits[version] };
            if (tags.Length > 0)
                args.AddRange(["--tag", tags]);
            await OtactlOkAsync(server, [.. args]);
        }
        var tokens = new Dictionary<string, string>();
        foreach (var name in new[] { "A", "B", "C", "D" })
            tokens[name] = (await OtactlOkAsync(server, "devices", "create", name, "--hw-id", "hw1")).Trim();
        var fleet = new Fleet(server, tokens, commits);
        await CheckInAsync(fleet, "A", "promoted", 22);
        await CheckInAsync(fleet, "B", "promoted", 22);
        await CheckInAsync(fleet, "C", "promoted", 32);
        await CheckInAsync(fleet, "D", "devel", 32);

        var list = await OtactlOkAsync(server, "targets", "list", "--by-tag", "promoted");
        Assert.Contains("22", list);
        Assert.DoesNotContain(" 42 ", " " + list.Replace('\n', ' ') + " ");
        var devices = await OtactlOkAsync(server, "devices", "list", "--by-tag", "promoted");
        Assert.Equal(4, devices.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length); // header + A, B, C

        var dry = await OtactlOkAsync(server, "targets", "static-deltas", "--dryrun", "--by-tag", "promoted", "42");
        Assert.Equal("Dry run: Would generate static deltas for target versions:\n   22 -> 42\n   32 -> 42\n", dry.ReplaceLineEndings("\n"));

        var run = await OtactlOkAsync(server, "targets", "static-deltas", "--by-tag", "promoted", "42");
        var lines = run.ReplaceLineEndings("\n").TrimEnd('\n').Split('\n');
        Assert.Equal("Generating static deltas for target versions:", lines[0]);
        Assert.Matches("^Job [0-9a-f]{32} Succeeded$", lines[^1]);
        Assert.Contains(lines, l => l.Contains("22 -> 42") && l.Contains(": done"));
        Assert.Contains(lines, l => l.Contains("32 -> 42") && l.Contains(": done"));

        var jobs = await OtactlOkAsync(server, "jobs", "list");
        Assert.Contains("static-deltas", jobs);
        Assert.Contains("Succeeded", jobs);

        var tagged = await OtactlOkAsync(server, "targets", "tag", "-T", "master,promoted", "--by-version", "42");
        Assert.Contains("42: - -> master,promoted", tagged);

        foreach (var (device, version) in new[] { ("A", 22L), ("B", 22L), ("C", 32L) })
        {
            var res = await CheckInAsync(fleet, device, "promoted", version);
            Assert.True(res.GetProperty("updateAvailable").GetBoolean());
            Assert.Equal(42, res.GetProperty("target").GetProperty("version").GetInt64());
            Assert.Equal(commits[42], res.GetProperty("target").GetProperty("commit").GetString());
            Assert.True(res.GetProperty("delta").GetProperty("available").GetBoolean(), $"{device}: delta {version} -> 42 should be available");
            Assert.True(res.GetProperty("delta").GetProperty("size").GetInt64() > 0);
        }
        var devel = await CheckInAsync(fleet, "D", "devel", 32);
        Assert.False(devel.GetProperty("updateAvailable").GetBoolean());
        Assert.Equal(32, devel.GetProperty("target").GetProperty("version").GetInt64());
        return fleet;
    }

    [Fact]
    public async Task Workflow_WithStandInRepositoryAndDeltas_DryRunGenerateTagCheckin()
    {
        var (f, content, deltas) = FleetKit.Create();
        using var _f = f;
        var server = f.StartKestrel();
        var commits = new[] { 22L, 32L, 42L }.ToDictionary(v => v, v => content.AddCommit(v));
        await RunWorkflowAsync(server, commits);
        Assert.Equal(2, deltas.Generations.Count);
        Assert.All(deltas.Generations.Values, n => Assert.Equal(1, n));
    }

    /// <summary>
    /// Acceptance 1 end to end with the real pieces: commits made by the ostree CLI in the server's archive
    /// repository, the real <see cref="IRepositoryContent"/> and <see cref="IDeltaService"/>, the served
    /// repository, and a bare-user ostree client at 22 that pulls 42 through the generated delta.
    /// Needs the Serving, Deltas and Repositories features; fails (does not skip) without them.
    /// </summary>
    [Fact]
    public async Task Workflow_RealOstreeClientAt22_PullsTarget42ThroughTheGeneratedDelta()
    {
        using var f = new OtaServerFactory();
        var server = f.StartKestrel();
        Assert.True(f.Services.GetService<IRepositoryContent>() is not null, "needs the real IRepositoryContent (Repositories feature)");
        Assert.True(f.Services.GetService<IDeltaService>() is not null, "needs the real IDeltaService (Deltas feature)");
        using var work = new TempDirectory("ota-workflow");
        var repo = f.RepoRoot();

        string CommitVersion(long version) => FleetKit.OstreeCommitVersion(repo, work.Path, version);

        var client = work.Combine("client");
        OstreeCli.Run("init", $"--repo={client}", "--mode=bare-user");
        OstreeCli.Run("remote", "add", $"--repo={client}", "--no-gpg-verify", "origin", new Uri(server, "repos/main").ToString());
        var commits = new Dictionary<long, string> { [22] = CommitVersion(22) };
        OstreeCli.Run("pull", $"--repo={client}", "origin", "main");
        Assert.Equal(commits[22], OstreeCli.Run("rev-parse", $"--repo={client}", "origin:main").Trim());
        commits[32] = CommitVersion(32);
        commits[42] = CommitVersion(42);

        await RunWorkflowAsync(server, commits);

        var pull = OstreeCli.TryRun("pull", $"--repo={client}", "--require-static-deltas", "origin", "main");
        Assert.True(pull.ExitCode == 0, $"pull through the delta failed\n{pull.StdOut}\n{pull.StdErr}");
        Assert.Equal(commits[42], OstreeCli.Run("rev-parse", $"--repo={client}", "origin:main").Trim());
        OstreeCli.Run("fsck", $"--repo={client}");
    }
}
