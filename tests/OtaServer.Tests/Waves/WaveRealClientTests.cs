using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using OtaServer.Deltas;
using OtaServer.Repositories;
using OtaServer.Tests.Infrastructure;
using OtaServer.Tests.Workflow;

namespace OtaServer.Tests.Waves;

public sealed class WaveRealClientTests
{
    /// <summary>
    /// Issue 5, acceptance 1 with the real pieces: twelve devices on 22 following production (beta 2, prod 10);
    /// a wave for 42 is refused until the delta exists; after the beta rollout a real bare-user ostree
    /// client (device beta-1) pulls 42 through the delta and reports ok. Needs the Repositories, Deltas and
    /// Serving features; fails (does not skip) without them. The rest of the scenario runs with stand-ins in WaveTests.
    /// </summary>
    [Fact]
    public async Task Wave_RealClientInBeta_PullsThroughTheDeltaAndReportsOk()
    {
        using var f = new OtaServerFactory();
        var server = f.StartKestrel();
        Assert.True(f.Services.GetService<IRepositoryContent>() is not null, "needs the real IRepositoryContent (Repositories feature)");
        Assert.True(f.Services.GetService<IDeltaService>() is not null, "needs the real IDeltaService (Deltas feature)");
        using var work = new TempDirectory("ota-wave");
        var repo = f.RepoRoot();
        using var admin = new HttpClient { BaseAddress = server };
        admin.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", OtaServerFactory.AdminToken);

        var c22 = FleetKit.OstreeCommitVersion(repo, work.Path, 22);
        var client = work.Combine("client");
        OstreeCli.Run("init", $"--repo={client}", "--mode=bare-user");
        OstreeCli.Run("remote", "add", $"--repo={client}", "--no-gpg-verify", "origin", new Uri(server, "repos/main").ToString());
        OstreeCli.Run("pull", $"--repo={client}", "origin", "main");
        var c42 = FleetKit.OstreeCommitVersion(repo, work.Path, 42);
        await admin.PostOkAsync("api/v1/targets", new { version = 22, @ref = "main", commit = c22, tags = new[] { "production" } });
        await admin.PostOkAsync("api/v1/targets", new { version = 42, @ref = "main", commit = c42 });

        var tokens = new Dictionary<string, string>();
        foreach (var name in new[] { "beta-1", "beta-2" }.Concat(Enumerable.Range(1, 10).Select(i => $"prod-{i:00}")))
        {
            tokens[name] = await admin.CreateDeviceAsync(name, "hw1");
            await admin.PatchAsync($"api/v1/devices/{name}", FleetKit.JsonBody(new { group = name[..4] }));
        }
        async Task<JsonElement> CheckIn(string name, string commit, object? lastUpdate = null)
        {
            using var http = new HttpClient { BaseAddress = server };
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", tokens[name]);
            return await http.PostOkAsync("api/v1/devices/checkin", new { hardwareId = "hw1", tag = "production", currentCommit = commit, lastUpdate });
        }
        foreach (var name in tokens.Keys)
            await CheckIn(name, c22);

        var refused = await admin.PostAsync("api/v1/waves", FleetKit.JsonBody(new { name = "w42", version = 42, tag = "production" }));
        Assert.Equal(HttpStatusCode.Conflict, refused.StatusCode);
        var job = await admin.PostOkAsync("api/v1/targets/42/static-deltas", new { byTag = "production" });
        Assert.Equal("Succeeded", (await admin.WaitForJobAsync(job.GetProperty("job").GetProperty("id").GetString()!, TimeSpan.FromMinutes(5))).GetProperty("status").GetString());
        await admin.PostOkAsync("api/v1/waves", new { name = "w42", version = 42, tag = "production" });
        await admin.PostOkAsync("api/v1/waves/w42/rollout", new { group = "beta" });

        var answer = await CheckIn("beta-1", c22);
        Assert.Equal(42, answer.GetProperty("target").GetProperty("version").GetInt64());
        Assert.True(answer.GetProperty("delta").GetProperty("available").GetBoolean());
        Assert.Equal(22, (await CheckIn("prod-01", c22)).GetProperty("target").GetProperty("version").GetInt64());

        var pull = OstreeCli.TryRun("pull", $"--repo={client}", "--require-static-deltas", "origin", "main");
        Assert.True(pull.ExitCode == 0, $"pull through the delta failed\n{pull.StdOut}\n{pull.StdErr}");
        Assert.Equal(c42, OstreeCli.Run("rev-parse", $"--repo={client}", "origin:main").Trim());
        await CheckIn("beta-1", c42, new { version = 42, result = "ok" });

        var status = await admin.GetFromJsonAsync<JsonElement>("api/v1/waves/w42");
        Assert.Equal(1, status.GetProperty("totals").GetProperty("updated").GetInt32());
        Assert.Equal(1, status.GetProperty("groups").GetProperty("beta").GetProperty("updated").GetInt32());
    }
}
