using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using OtaServer.Tests.Infrastructure;

namespace OtaServer.Tests.Deltas;

/// <summary>
/// Issue 3 acceptance 1 and 4: deltas generated through the admin API are pulled by the real
/// bare-user client over HTTP; failed or cancelled generations leave nothing visible.
/// </summary>
public sealed class DeltaPullTests : IDisposable
{
    private readonly TempDirectory _tmp = new();
    private readonly OtaServerFactory _factory = new(new Dictionary<string, string?>
    {
        // Small thresholds so a test tree exercises fallbacks and several parts.
        ["OtaServer:Deltas:MinFallbackSize"] = "200000",
        ["OtaServer:Deltas:MaxPartSize"] = "20000",
    });

    public void Dispose()
    {
        _factory.Dispose();
        _tmp.Dispose();
    }

    private async Task<(string V1, string V2, string Tree2)> PushTwoVersionsAsync(Uri server)
    {
        var local = _tmp.Combine("build");
        var tree1 = _tmp.Combine("tree1");
        var tree2 = _tmp.Combine("tree2");
        TestTrees.Write(tree1, 1, extraFiles: 40);
        TestTrees.Write(tree2, 2, extraFiles: 60);
        // A big file over the fallback threshold, new in v2.
        var big = new byte[400_000];
        new Random(7).NextBytes(big);
        await File.WriteAllBytesAsync(Path.Combine(tree2, "usr/lib/firmware.bin"), big);
        // New incompressible files under the fallback threshold: several parts at a 20 kB maximum.
        for (var i = 0; i < 5; i++)
        {
            var blob = new byte[15_000];
            new Random(100 + i).NextBytes(blob);
            await File.WriteAllBytesAsync(Path.Combine(tree2, $"usr/lib/blob{i}.bin"), blob);
        }
        var v1 = LocalRepos.Commit(local, tree1, subject: "v1");
        await PushAsync(server, local);
        var v2 = LocalRepos.Commit(local, tree2, subject: "v2");
        await PushAsync(server, local);
        return (v1, v2, tree2);
    }

    private static async Task PushAsync(Uri server, string local)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var code = await OtaCtl.Cli.RunAsync(["push", "--server", server.ToString(), "--token", OtaServerFactory.PushToken, local, "main"],
            stdout, stderr, CancellationToken.None);
        Assert.True(code == 0, stderr.ToString());
    }

    private async Task<JsonElement> GenerateAsync(HttpClient admin, string? from, string to)
    {
        var response = await admin.PostAsJsonAsync("/api/v1/repos/main/deltas", new { from, to });
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var accepted = await response.Content.ReadFromJsonAsync<JsonElement>();
        var url = accepted.GetProperty("jobUrl").GetString()!;
        Assert.Equal(url, response.Headers.Location?.ToString());
        return await WaitForJobAsync(admin, url);
    }

    internal static async Task<JsonElement> WaitForJobAsync(HttpClient admin, string url)
    {
        for (var i = 0; i < 600; i++)
        {
            var job = (await admin.GetFromJsonAsync<JsonElement>(url)).GetProperty("job");
            var status = job.GetProperty("status").GetString();
            if (status is "Succeeded" or "Failed" or "Cancelled")
                return job;
            await Task.Delay(100);
        }
        throw new TimeoutException("job did not finish in 60 s");
    }

    private static string DeltaDir(string from, string to) =>
        new OtaServer.OSTree.DeltaName(OtaServer.OSTree.Checksum.Parse(from), OtaServer.OSTree.Checksum.Parse(to)).RelativeDirectory["deltas/".Length..];

    private string NewClient(Uri server, string name)
    {
        var client = _tmp.Combine(name);
        OstreeCli.Run("init", "--mode=bare-user", "--repo=" + client);
        OstreeCli.Run("remote", "add", "--repo=" + client, "--no-gpg-verify", "ota", new Uri(server, "repos/main").ToString());
        return client;
    }

    [Fact]
    public async Task BareUserClientAtV1_PullsV2ThroughGeneratedDelta()
    {
        var server = _factory.StartKestrel();
        var (v1, v2, tree2) = await PushTwoVersionsAsync(server);
        var admin = _factory.CreateClient(OtaServerFactory.AdminToken);

        // The client gets v1 object by object, before any delta exists.
        var client = NewClient(server, "client");
        OstreeCli.Run("pull", "--repo=" + client, "ota", "main@" + v1);
        Assert.Equal(v1, OstreeCli.Run("rev-parse", "--repo=" + client, "ota:main").Trim());

        var job = await GenerateAsync(admin, v1, "main");
        Assert.Equal("Succeeded", job.GetProperty("status").GetString());
        var stats = await admin.GetFromJsonAsync<JsonElement>($"/api/v1/repos/main/deltas/{v1}-{v2}");
        Assert.True(stats.GetProperty("parts").GetInt32() >= 2, "a small part size gives several parts");
        Assert.Equal(1, stats.GetProperty("fallbacks").GetInt32());
        // The stats are also in the served tree, for a device agent's free-space check.
        var served = await _factory.CreateClient().GetAsync($"/repos/main/deltas/{DeltaDir(v1, v2)}/stats.json");
        Assert.Equal(HttpStatusCode.OK, served.StatusCode);
        Assert.Contains("immutable", served.Headers.CacheControl?.ToString());
        var servedStats = await served.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(stats.GetProperty("compressedBytes").GetInt64(), servedStats.GetProperty("compressedBytes").GetInt64());
        // Asking again is a no-op that answers with the stats.
        var again = await admin.PostAsJsonAsync("/api/v1/repos/main/deltas", new { from = v1, to = v2 });
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);

        _factory.Requests.Clear();
        OstreeCli.Run("pull", "--repo=" + client, "ota", "main");
        Assert.Equal(v2, OstreeCli.Run("rev-parse", "--repo=" + client, "ota:main").Trim());
        OstreeCli.Run("fsck", "--repo=" + client);
        var checkout = _tmp.Combine("checkout");
        OstreeCli.Run("checkout", "--repo=" + client, "-U", "ota:main", checkout);
        TestTrees.AssertEqual(tree2, checkout);

        var gets = _factory.RepositoryGets();
        Assert.Contains(gets, g => g.Path.StartsWith("deltas/") && g.Path.EndsWith("/superblock") && g.Status == 200);
        var parts = gets.Count(g => g.Path.StartsWith("deltas/") && !g.Path.EndsWith("/superblock") && g.Status == 200);
        Assert.Equal(stats.GetProperty("parts").GetInt32(), parts);
        // Loose objects: the fallback and at most a few metadata objects (the commitmeta hold keeps the
        // 2022.7 client from refetching what the parts carry).
        var loose = gets.Where(g => g.Path.StartsWith("objects/") && g.Status == 200).Select(g => g.Path).ToList();
        Assert.Equal(1, loose.Count(p => p.EndsWith(".filez")));
        Assert.True(loose.Count(p => !p.EndsWith(".filez")) <= 3, string.Join("\n", loose));
    }

    /// <summary>
    /// Issue 10, acceptance 3 through the server: stats.json, the deltas API and the check-in answer carry
    /// requiredBytes = "Total Uncompressed Size" and downloadBytes = "Total Size" of <c>ostree static-delta show</c>.
    /// </summary>
    [Fact]
    public async Task DeltaSizes_InStatsApiAndCheckin_AreTheTotalsOstreeStaticDeltaShowPrints()
    {
        var server = _factory.StartKestrel();
        var (v1, v2, _) = await PushTwoVersionsAsync(server);
        var admin = _factory.CreateClient(OtaServerFactory.AdminToken);
        Assert.Equal("Succeeded", (await GenerateAsync(admin, v1, v2)).GetProperty("status").GetString());

        var show = OstreeCli.Run($"--repo={_factory.RepoRoot()}", "static-delta", "show", $"{v1}-{v2}");
        long Printed(string label)
        {
            var line = show.Split('\n').Single(l => l.StartsWith(label + ": ", StringComparison.Ordinal));
            return long.Parse(line[(label.Length + 2)..].Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
        }
        long required = Printed("Total Uncompressed Size"), download = Printed("Total Size");
        Assert.True(required > Printed("Total Part Uncompressed Size"), show);

        var stats = await admin.GetFromJsonAsync<JsonElement>($"/api/v1/repos/main/deltas/{v1}-{v2}");
        Assert.Equal(required, stats.GetProperty("requiredBytes").GetInt64());
        Assert.Equal(download, stats.GetProperty("downloadBytes").GetInt64());
        var listed = (await admin.GetFromJsonAsync<JsonElement>("/api/v1/repos/main/deltas")).EnumerateArray().Single();
        Assert.Equal(required, listed.GetProperty("requiredBytes").GetInt64());
        var served = await _factory.CreateClient().GetFromJsonAsync<JsonElement>($"/repos/main/deltas/{DeltaDir(v1, v2)}/stats.json");
        Assert.Equal(required, served.GetProperty("requiredBytes").GetInt64());
        Assert.Equal(download, served.GetProperty("downloadBytes").GetInt64());

        await admin.PostAsJsonAsync("/api/v1/targets", new { version = 1, @ref = "main", commit = v1, hardwareIds = new[] { "hw1" } });
        await admin.PostAsJsonAsync("/api/v1/targets", new { version = 2, @ref = "main", commit = v2, tags = new[] { "stable" }, hardwareIds = new[] { "hw1" } });
        var created = await (await admin.PostAsJsonAsync("/api/v1/devices", new { name = "d1", hardwareId = "hw1", tag = "stable" })).Content.ReadFromJsonAsync<JsonElement>();
        var device = _factory.CreateClient(created.GetProperty("token").GetString());
        var answer = await (await device.PostAsJsonAsync("/api/v1/devices/checkin", new { hardwareId = "hw1", tag = "stable", currentCommit = v1 }))
            .Content.ReadFromJsonAsync<JsonElement>();
        var delta = answer.GetProperty("delta");
        Assert.True(delta.GetProperty("available").GetBoolean(), answer.ToString());
        Assert.Equal(required, delta.GetProperty("requiredBytes").GetInt64());
        Assert.Equal(download, delta.GetProperty("downloadBytes").GetInt64());
        Assert.Equal(download, delta.GetProperty("size").GetInt64());
    }

    [Fact]
    public async Task EmptyClient_PullsThroughScratchDelta_AndRequireStaticDeltasWorks()
    {
        var server = _factory.StartKestrel();
        var (_, v2, tree2) = await PushTwoVersionsAsync(server);
        var admin = _factory.CreateClient(OtaServerFactory.AdminToken);
        var job = await GenerateAsync(admin, null, v2);
        Assert.Equal("Succeeded", job.GetProperty("status").GetString());

        var stats = await admin.GetFromJsonAsync<JsonElement>($"/api/v1/repos/main/deltas/{v2}");
        var client = NewClient(server, "scratch");
        _factory.Requests.Clear();
        OstreeCli.Run("pull", "--repo=" + client, "--require-static-deltas", "ota", "main");
        OstreeCli.Run("fsck", "--repo=" + client);
        var checkout = _tmp.Combine("checkout");
        OstreeCli.Run("checkout", "--repo=" + client, "-U", "ota:main", checkout);
        TestTrees.AssertEqual(tree2, checkout);
        var gets = _factory.RepositoryGets();
        Assert.Contains(gets, g => g.Path.EndsWith("/superblock") && g.Status == 200);
        // Loose content = exactly the fallbacks (the 300 kB and 400 kB files are over the 200 kB threshold).
        Assert.True(gets.Count(g => g.Path.StartsWith("objects/") && g.Path.EndsWith(".filez") && g.Status == 200) == stats.GetProperty("fallbacks").GetInt32(),
            string.Join("\n", gets.Select(g => $"{g.Status} {g.Path}")));
    }

    [Fact]
    public async Task DeleteDelta_UnlistsItFromSummaryAndIndex_FilesStayForGracePeriod()
    {
        var server = _factory.StartKestrel();
        var (v1, v2, _) = await PushTwoVersionsAsync(server);
        var admin = _factory.CreateClient(OtaServerFactory.AdminToken);
        await GenerateAsync(admin, v1, v2);
        var root = _factory.RepoRoot();
        Assert.Contains($"{v1}-{v2}", OstreeCli.Run("summary", "--view", "--repo=" + root));
        var list = await admin.GetFromJsonAsync<JsonElement>("/api/v1/repos/main/deltas");
        Assert.Equal(1, list.GetArrayLength());

        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"/api/v1/repos/main/deltas/{v1}-{v2}")).StatusCode);
        Assert.DoesNotContain($"{v1}-{v2}", OstreeCli.Run("summary", "--view", "--repo=" + root));
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(root, "delta-indexes"), "*.index", SearchOption.AllDirectories));
        Assert.Single(Directory.EnumerateFiles(Path.Combine(root, "deltas"), "superblock", SearchOption.AllDirectories));
        Assert.Equal(HttpStatusCode.NotFound, (await admin.DeleteAsync($"/api/v1/repos/main/deltas/{v1}-{v2}")).StatusCode);
        Assert.Equal(0, (await admin.GetFromJsonAsync<JsonElement>("/api/v1/repos/main/deltas")).GetArrayLength());
    }

    [Fact]
    public async Task BadRequests_GetProblemDetails()
    {
        var server = _factory.StartKestrel();
        var (v1, v2, _) = await PushTwoVersionsAsync(server);
        var admin = _factory.CreateClient(OtaServerFactory.AdminToken);
        async Task<HttpStatusCode> Post(object body)
        {
            var r = await admin.PostAsJsonAsync("/api/v1/repos/main/deltas", body);
            if (!r.IsSuccessStatusCode)
                Assert.Equal("application/problem+json", r.Content.Headers.ContentType?.MediaType);
            return r.StatusCode;
        }
        Assert.Equal(HttpStatusCode.UnprocessableEntity, await Post(new { from = v1, to = new string('a', 64) }));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, await Post(new { from = new string('b', 64), to = v2 }));
        Assert.Equal(HttpStatusCode.BadRequest, await Post(new { from = v2, to = v2 }));
        Assert.Equal(HttpStatusCode.BadRequest, await Post(new { from = v1 }));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, await Post(new { to = "no-such-ref" }));
        var push = _factory.CreateClient(OtaServerFactory.PushToken);
        Assert.Equal(HttpStatusCode.Forbidden, (await push.PostAsJsonAsync("/api/v1/repos/main/deltas", new { from = v1, to = v2 })).StatusCode);
        // Two identical requests while the first is pending or running → the same job.
        var a = await (await admin.PostAsJsonAsync("/api/v1/repos/main/deltas", new { from = v1, to = v2 })).Content.ReadFromJsonAsync<JsonElement>();
        var b = await admin.PostAsJsonAsync("/api/v1/repos/main/deltas", new { from = v1, to = v2 });
        if (b.StatusCode == HttpStatusCode.Accepted)
            Assert.Equal(a.GetProperty("jobId").GetString(), (await b.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("jobId").GetString());
        else
            Assert.Equal(HttpStatusCode.OK, b.StatusCode); // the first had already finished
    }

    [Fact]
    public async Task CancelledGeneration_LeavesNoSuperblockIndexOrSummaryChange_AndPullsDuringItSucceed()
    {
        var server = _factory.StartKestrel();
        var (v1, v2, _) = await PushTwoVersionsAsync(server);
        var root = _factory.RepoRoot();
        var summaryBefore = await File.ReadAllBytesAsync(Path.Combine(root, "summary"));
        var admin = _factory.CreateClient(OtaServerFactory.AdminToken);

        var response = await admin.PostAsJsonAsync("/api/v1/repos/main/deltas", new { from = (string?)null, to = v2 });
        var accepted = await response.Content.ReadFromJsonAsync<JsonElement>();
        var url = accepted.GetProperty("jobUrl").GetString()!;
        // A client pulling while the job runs succeeds (object by object).
        var client = NewClient(server, "during");
        OstreeCli.Run("pull", "--repo=" + client, "ota", "main");
        OstreeCli.Run("fsck", "--repo=" + client);
        await admin.PostAsync(url + "/cancel", null);
        var job = await WaitForJobAsync(admin, url);
        var status = job.GetProperty("status").GetString();
        if (status == "Cancelled")
        {
            Assert.Empty(Directory.EnumerateFiles(Path.Combine(root, "deltas"), "superblock", SearchOption.AllDirectories));
            Assert.Empty(Directory.EnumerateFiles(Path.Combine(root, "delta-indexes"), "*", SearchOption.AllDirectories));
            Assert.Equal(summaryBefore, await File.ReadAllBytesAsync(Path.Combine(root, "summary")));
        }
        else
        {
            // The generation won the race with the cancel: then it is complete and listed.
            Assert.Equal("Succeeded", status);
            Assert.Contains(v2, OstreeCli.Run("summary", "--view", "--repo=" + root));
        }
        Assert.Empty(Directory.EnumerateDirectories(Path.Combine(root, "tmp"), "delta-*"));
        Assert.NotEqual(v1, v2);
    }

    [Fact]
    public async Task FailingGeneration_EndsFailedWithReason_AndLeavesNothingVisible()
    {
        var server = _factory.StartKestrel();
        var (v1, v2, _) = await PushTwoVersionsAsync(server);
        var root = _factory.RepoRoot();
        var summaryBefore = await File.ReadAllBytesAsync(Path.Combine(root, "summary"));
        var configBefore = await File.ReadAllTextAsync(Path.Combine(root, "config"));
        // Damage one of v2's new 15 kB files (present, so the request is accepted; unreadable mid-generation).
        var blob = Directory.EnumerateFiles(Path.Combine(root, "objects"), "*.filez", SearchOption.AllDirectories)
            .First(f => new FileInfo(f).Length is > 14_000 and < 16_000);
        var bytes = await File.ReadAllBytesAsync(blob);
        await File.WriteAllBytesAsync(blob, bytes[..(bytes.Length / 2)]);

        var admin = _factory.CreateClient(OtaServerFactory.AdminToken);
        var response = await admin.PostAsJsonAsync("/api/v1/repos/main/deltas", new { from = (string?)null, to = v2 });
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var url = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("jobUrl").GetString()!;
        var job = await WaitForJobAsync(admin, url);
        Assert.Equal("Failed", job.GetProperty("status").GetString());
        var log = await admin.GetStringAsync(url + "/log");
        Assert.False(string.IsNullOrWhiteSpace(job.GetProperty("error").GetString()));
        Assert.Contains(job.GetProperty("error").GetString()!, log);

        Assert.Empty(Directory.EnumerateFiles(Path.Combine(root, "deltas"), "*", SearchOption.AllDirectories));
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(root, "delta-indexes"), "*", SearchOption.AllDirectories));
        Assert.Equal(summaryBefore, await File.ReadAllBytesAsync(Path.Combine(root, "summary")));
        Assert.Equal(configBefore, await File.ReadAllTextAsync(Path.Combine(root, "config")));
        Assert.Empty(Directory.EnumerateDirectories(Path.Combine(root, "tmp"), "delta-*"));
        Assert.NotEqual(v1, v2);
    }
}
