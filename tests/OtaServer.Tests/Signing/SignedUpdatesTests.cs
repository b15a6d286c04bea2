using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using OtaServer.Tests.Deltas;
using OtaServer.Tests.Infrastructure;

namespace OtaServer.Tests.Signing;

/// <summary>
/// Signed commits (made by CI with the real ostree + gpg) and summaries signed by the server (BouncyCastle),
/// judged by the real 2022.7 client with gpg-verify=true and gpg-verify-summary=true.
/// </summary>
public sealed class SignedUpdatesTests : IDisposable
{
    private readonly TempDirectory _tmp = new();
    private readonly GpgKeys _keys;
    private OtaServerFactory? _factory;

    public SignedUpdatesTests() => _keys = new GpgKeys(_tmp);

    public void Dispose()
    {
        _factory?.Dispose();
        _keys.Dispose();
        _tmp.Dispose();
    }

    private Uri Start(params GpgKey[] summaryKeys)
    {
        var settings = new Dictionary<string, string?>();
        for (var i = 0; i < summaryKeys.Length; i++)
            settings[$"OtaServer:Signing:Keys:{i}:SecretKeyFile"] = summaryKeys[i].SecretFile;
        _factory?.Dispose();
        _factory = new OtaServerFactory(settings, _tmp.Combine("data"));
        return _factory.StartKestrel();
    }

    /// <summary>Commits <paramref name="tree"/> into the CI repository, signed by <paramref name="key"/> unless null.</summary>
    private string CiCommit(string local, string tree, string subject, GpgKey? key)
    {
        var commit = LocalRepos.Commit(local, tree, subject: subject);
        if (key is not null)
            OstreeCli.Run("gpg-sign", "--repo=" + local, "--gpg-homedir=" + key.Home, commit, key.Fingerprint);
        return commit;
    }

    private static async Task PushAsync(Uri server, string local)
    {
        var push = await PushAndPullTests_Otactl("push", "--server", server.ToString(), "--token", OtaServerFactory.PushToken, local, "main");
        Assert.True(push.Code == 0, push.Err);
    }

    private static Task<(int Code, string Out, string Err)> PushAndPullTests_Otactl(params string[] args) =>
        EndToEnd.PushAndPullTests.OtactlAsync(args);

    /// <summary>A bare-user client verifying commits and summary, trusting the keys served at the public-key URL, or <paramref name="trust"/>.</summary>
    private async Task<string> VerifyingClientAsync(Uri server, string name, params string[] trust)
    {
        var client = _tmp.Combine(name);
        OstreeCli.Run("init", "--mode=bare-user", "--repo=" + client);
        OstreeCli.Run("remote", "add", "--repo=" + client, "--set=gpg-verify=true", "--set=gpg-verify-summary=true",
            "ota", new Uri(server, "repos/main").ToString());
        if (trust.Length == 0)
        {
            using var http = new HttpClient { BaseAddress = server };
            var served = _tmp.Combine(name + "-served.asc");
            File.WriteAllBytes(served, await http.GetByteArrayAsync("/api/v1/repos/main/signing-keys.asc"));
            trust = [served];
        }
        foreach (var file in trust)
            OstreeCli.Run("remote", "gpg-import", "--repo=" + client, "-k", file, "ota");
        return client;
    }

    [Fact]
    public async Task SignedCommitAndSummary_ArePulledByVerifyingClient_ObjectByObjectAndThroughStaticDelta()
    {
        var ci = _keys.NewKey("ci");
        var server = Start(ci);
        var local = _tmp.Combine("build");
        var tree1 = _tmp.Combine("tree1");
        var tree2 = _tmp.Combine("tree2");
        TestTrees.Write(tree1, 1, extraFiles: 10);
        TestTrees.Write(tree2, 2, extraFiles: 12);
        var v1 = CiCommit(local, tree1, "v1", ci);
        await PushAsync(server, local);
        Assert.True(File.Exists(Path.Combine(_factory!.RepoRoot(), "summary.sig")));

        var client = await VerifyingClientAsync(server, "device");
        OstreeCli.Run("pull", "--repo=" + client, "ota", "main");
        Assert.Equal(v1, OstreeCli.Run("rev-parse", "--repo=" + client, "ota:main").Trim());
        var show = OstreeCli.Run("show", "--repo=" + client, v1);
        Assert.Contains("Good signature", show);
        Assert.Contains(ci.Fingerprint[^16..], show.Replace(" ", ""));
        OstreeCli.Run("fsck", "--repo=" + client);

        // v2 through a static delta only.
        var v2 = CiCommit(local, tree2, "v2", ci);
        await PushAsync(server, local);
        var admin = _factory.CreateClient(OtaServerFactory.AdminToken);
        var response = await admin.PostAsJsonAsync("/api/v1/repos/main/deltas", new { from = v1, to = v2 });
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var url = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("jobUrl").GetString()!;
        Assert.Equal("Succeeded", (await DeltaPullTests.WaitForJobAsync(admin, url)).GetProperty("status").GetString());

        _factory.Requests.Clear();
        OstreeCli.Run("pull", "--repo=" + client, "--require-static-deltas", "ota", "main");
        Assert.Equal(v2, OstreeCli.Run("rev-parse", "--repo=" + client, "ota:main").Trim());
        Assert.Contains(_factory.RepositoryGets(), g => g.Path.EndsWith("/superblock", StringComparison.Ordinal) && g.Status == 200);
        Assert.Contains("Good signature", OstreeCli.Run("show", "--repo=" + client, v2));
        OstreeCli.Run("fsck", "--repo=" + client);
        var checkout = _tmp.Combine("checkout");
        OstreeCli.Run("checkout", "--repo=" + client, "-U", "ota:main", checkout);
        TestTrees.AssertEqual(tree2, checkout);
    }

    [Fact]
    public async Task VerifyingClient_RefusesTamperedSummary_UntrustedAndUnsignedCommits_RepositoryUnchanged()
    {
        var ci = _keys.NewKey("ci");
        var stranger = _keys.NewKey("stranger");
        var server = Start(ci);
        var local = _tmp.Combine("build");
        var tree = _tmp.Combine("tree");
        TestTrees.Write(tree, 1);
        var good = CiCommit(local, tree, "good", ci);
        await PushAsync(server, local);
        var client = await VerifyingClientAsync(server, "device", ci.PublicFile);
        OstreeCli.Run("pull", "--repo=" + client, "ota", "main");
        Assert.Equal(good, OstreeCli.Run("rev-parse", "--repo=" + client, "ota:main").Trim());

        string Snapshot() => string.Join("\n", Directory.EnumerateFiles(Path.Combine(client, "objects"), "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
            + OstreeCli.Run("rev-parse", "--repo=" + client, "ota:main");

        // 1. A summary changed after signing (one byte), as a mirror or a cache in between would serve it: a
        // static copy of the repository. (Our server re-signs its own summary at start, so it never serves one.)
        var before = Snapshot();
        var mirror = _tmp.Combine("mirror");
        OstreeCli.Exec("cp", "-a", _factory!.RepoRoot(), mirror);
        var summaryPath = Path.Combine(mirror, "summary");
        var tampered = File.ReadAllBytes(summaryPath);
        tampered[tampered.Length / 2] ^= 0x01;
        File.WriteAllBytes(summaryPath, tampered);
        using (var mirrorServer = new StaticHttpServer(mirror))
        {
            OstreeCli.Run("config", "--repo=" + client, "set", "remote \"ota\".url", mirrorServer.Url);
            // The client keeps the summary it verified, keyed by summary.sig (unchanged here): drop that cache so it
            // fetches the tampered file; a new device has none.
            var cache = Path.Combine(client, "tmp", "cache");
            if (Directory.Exists(cache))
                Directory.Delete(cache, recursive: true);
            var r1 = OstreeCli.TryRun("pull", "--repo=" + client, "ota", "main");
            Assert.NotEqual(0, r1.ExitCode);
            Assert.Contains("signature", r1.StdErr, StringComparison.OrdinalIgnoreCase);
            Assert.Equal(before, Snapshot());
        }
        OstreeCli.Run("config", "--repo=" + client, "set", "remote \"ota\".url", new Uri(server, "repos/main").ToString());

        // 2. A commit signed by a key the device does not trust.
        TestTrees.Write(tree, 2);
        var foreign = CiCommit(local, tree, "foreign", stranger);
        await PushAsync(server, local);
        var r2 = OstreeCli.TryRun("pull", "--repo=" + client, "ota", "main");
        Assert.NotEqual(0, r2.ExitCode);
        Assert.Contains("signature", r2.StdErr, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(good, OstreeCli.Run("rev-parse", "--repo=" + client, "ota:main").Trim());
        Assert.False(OstreeCli.TryRun("show", "--repo=" + client, foreign).ExitCode == 0, "the untrusted commit was stored");

        // 3. An unsigned commit.
        TestTrees.Write(tree, 3);
        var unsigned = CiCommit(local, tree, "unsigned", null);
        await PushAsync(server, local);
        var r3 = OstreeCli.TryRun("pull", "--repo=" + client, "ota", "main");
        Assert.NotEqual(0, r3.ExitCode);
        Assert.Contains("signature", r3.StdErr, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(good, OstreeCli.Run("rev-parse", "--repo=" + client, "ota:main").Trim());
        Assert.False(OstreeCli.TryRun("show", "--repo=" + client, unsigned).ExitCode == 0, "the unsigned commit was stored");
        OstreeCli.Run("fsck", "--repo=" + client);
    }

    [Fact]
    public async Task KeyRotation_SummarySignedByOldAndNewKey_ClientTrustingOnlyTheNewKeyPulls()
    {
        var oldKey = _keys.NewKey("old");
        var newKey = _keys.NewKey("new");
        var server = Start(oldKey, newKey);
        var local = _tmp.Combine("build");
        var tree = _tmp.Combine("tree");
        TestTrees.Write(tree, 1);
        var v1 = CiCommit(local, tree, "v1", newKey);
        await PushAsync(server, local);

        // Both keys are served, and summary.sig carries a signature by each.
        using var http = new HttpClient { BaseAddress = server };
        var served = _tmp.Combine("served.asc");
        File.WriteAllBytes(served, await http.GetByteArrayAsync("/api/v1/repos/main/signing-keys.asc"));
        var shown = GpgKeys.Gpg(newKey.Home, "--with-colons", "--show-keys", served);
        Assert.Contains(oldKey.Fingerprint, shown);
        Assert.Contains(newKey.Fingerprint, shown);

        var onlyNew = await VerifyingClientAsync(server, "new-only", newKey.PublicFile);
        OstreeCli.Run("pull", "--repo=" + onlyNew, "ota", "main");
        Assert.Equal(v1, OstreeCli.Run("rev-parse", "--repo=" + onlyNew, "ota:main").Trim());
        Assert.Contains("Good signature", OstreeCli.Run("show", "--repo=" + onlyNew, v1));

        // Devices not yet given the new key still verify the summary with the old one during the overlap.
        var onlyOld = await VerifyingClientAsync(server, "old-only", oldKey.PublicFile);
        Assert.Contains("main", OstreeCli.Run("remote", "refs", "--repo=" + onlyOld, "ota"));
        // A client trusting neither key is refused, so the listings above did verify the summary.
        var stranger = _keys.NewKey("stranger");
        var neither = await VerifyingClientAsync(server, "neither", stranger.PublicFile);
        var refused = OstreeCli.TryRun("remote", "refs", "--repo=" + neither, "ota");
        Assert.NotEqual(0, refused.ExitCode);
        Assert.Contains("signature", refused.StdErr, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task TwentyConcurrentVerifyingPulls_WhileTheRefMovesTwentyTimes_SeeNoSignatureFailure()
    {
        var ci = _keys.NewKey("ci");
        var server = Start(ci);
        var local = _tmp.Combine("build");
        var tree = _tmp.Combine("tree");
        var commits = new List<string>();
        for (var i = 0; i <= 20; i++)
        {
            TestTrees.Write(tree, i + 1);
            commits.Add(CiCommit(local, tree, "v" + i, ci));
        }
        var push = _factory!.CreateClient(OtaServerFactory.PushToken);
        var upload = await push.PostAsync("/api/v1/repos/main/objects", new ByteArrayContent(LocalRepos.Tar(local, LocalRepos.ObjectPaths(local))));
        Assert.Equal(HttpStatusCode.OK, upload.StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await push.PutAsJsonAsync("/api/v1/repos/main/refs/main", new { commit = commits[0], expected = (string?)null })).StatusCode);

        // Both files are revalidated by caches (no-cache + ETag), never kept blindly.
        using (var anon = new HttpClient { BaseAddress = server })
        {
            foreach (var file in new[] { "summary", "summary.sig" })
            {
                var r = await anon.GetAsync("/repos/main/" + file);
                Assert.Equal(HttpStatusCode.OK, r.StatusCode);
                Assert.Equal("no-cache", r.Headers.CacheControl?.ToString());
                Assert.NotNull(r.Headers.ETag);
            }
        }

        var clients = new List<string>();
        for (var i = 0; i < 20; i++)
            clients.Add(await VerifyingClientAsync(server, "device" + i, ci.PublicFile));

        var moving = true;
        var failures = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var pulls = 0;
        var pullers = clients.Select(client => Task.Factory.StartNew(() =>
        {
            while (true)
            {
                var done = !Volatile.Read(ref moving);
                var r = OstreeCli.TryRun("pull", "--repo=" + client, "ota", "main");
                Interlocked.Increment(ref pulls);
                if (r.ExitCode != 0)
                    failures.Enqueue(r.StdErr.Trim());
                if (done)
                    return OstreeCli.Run("rev-parse", "--repo=" + client, "ota:main").Trim();
            }
        }, TaskCreationOptions.LongRunning)).ToList();

        for (var i = 1; i <= 20; i++)
        {
            var moved = await push.PutAsJsonAsync("/api/v1/repos/main/refs/main", new { commit = commits[i], expected = commits[i - 1] });
            Assert.Equal(HttpStatusCode.OK, moved.StatusCode);
        }
        Volatile.Write(ref moving, false);
        var heads = await Task.WhenAll(pullers);

        Assert.True(failures.IsEmpty, $"{failures.Count} of {pulls} pulls failed:\n" + string.Join("\n", failures.Distinct()));
        Assert.True(pulls >= 40, $"only {pulls} pulls overlapped the 20 ref moves");
        Assert.All(heads, h => Assert.Equal(commits[^1], h));
    }
}
