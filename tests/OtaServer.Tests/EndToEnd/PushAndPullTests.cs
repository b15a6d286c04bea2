using OtaServer.Tests.Infrastructure;

namespace OtaServer.Tests.EndToEnd;

/// <summary>
/// Acceptance: commits made with the real ostree CLI, pushed with otactl, pulled by real
/// bare-user and archive clients from the server on 127.0.0.1, fsck-clean and equal to the source.
/// </summary>
public sealed class PushAndPullTests : IDisposable
{
    private readonly TempDirectory _tmp = new();
    private readonly OtaServerFactory _factory = new();

    public void Dispose()
    {
        _factory.Dispose();
        _tmp.Dispose();
    }

    internal static async Task<(int Code, string Out, string Err)> OtactlAsync(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var code = await OtaCtl.Cli.RunAsync(args, stdout, stderr, CancellationToken.None);
        return (code, stdout.ToString(), stderr.ToString());
    }

    [Fact]
    public async Task PushedCommits_ArePulledByRealClients_v1ThenV2()
    {
        var server = _factory.StartKestrel();
        var local = _tmp.Combine("build");
        var tree1 = _tmp.Combine("tree1");
        var tree2 = _tmp.Combine("tree2");
        TestTrees.Write(tree1, 1, extraFiles: 20);
        TestTrees.Write(tree2, 2, extraFiles: 25);
        var v1 = LocalRepos.Commit(local, tree1, subject: "v1");

        var push1 = await OtactlAsync("push", "--server", server.ToString(), "--token", OtaServerFactory.PushToken, local, "main");
        Assert.True(push1.Code == 0, push1.Err);
        Assert.Contains(v1, push1.Out);

        var client = _tmp.Combine("client");
        OstreeCli.Run("init", "--mode=bare-user", "--repo=" + client);
        OstreeCli.Run("remote", "add", "--repo=" + client, "--no-gpg-verify", "ota", new Uri(server, "repos/main").ToString());
        OstreeCli.Run("pull", "--repo=" + client, "ota", "main");
        Assert.Equal(v1, OstreeCli.Run("rev-parse", "--repo=" + client, "ota:main").Trim());

        var v2 = LocalRepos.Commit(local, tree2, subject: "v2");
        var push2 = await OtactlAsync("push", "--server", server.ToString(), "--token", OtaServerFactory.PushToken, local, "main");
        Assert.True(push2.Code == 0, push2.Err);
        // Only what v2 added was uploaded.
        var total = LocalRepos.ObjectPaths(local).Count;
        Assert.DoesNotContain($"({total} of", push2.Out);

        OstreeCli.Run("pull", "--repo=" + client, "ota", "main");
        Assert.Equal(v2, OstreeCli.Run("rev-parse", "--repo=" + client, "ota:main").Trim());
        OstreeCli.Run("fsck", "--repo=" + client);
        var checkout = _tmp.Combine("checkout");
        OstreeCli.Run("checkout", "--repo=" + client, "-U", "ota:main", checkout);
        TestTrees.AssertEqual(tree2, checkout);
        // The xattr travelled too (bare-user keeps it in the object metadata, so ask ostree).
        Assert.Contains("user.test", OstreeCli.Run("ls", "--repo=" + client, "-X", "ota:main", "/etc/labelled"));

        // An archive-mode client pulls the same commit (object by object).
        var mirror = _tmp.Combine("mirror");
        OstreeCli.Run("init", "--mode=archive", "--repo=" + mirror);
        OstreeCli.Run("remote", "add", "--repo=" + mirror, "--no-gpg-verify", "ota", new Uri(server, "repos/main").ToString());
        OstreeCli.Run("pull", "--repo=" + mirror, "ota", "main");
        OstreeCli.Run("fsck", "--repo=" + mirror);
        Assert.Equal(v2, OstreeCli.Run("rev-parse", "--repo=" + mirror, "ota:main").Trim());
    }

    [Fact]
    public async Task Push_ClearErrors()
    {
        var server = _factory.StartKestrel().ToString();
        var notRepo = _tmp.Combine("plain");
        Directory.CreateDirectory(notRepo);
        var r1 = await OtactlAsync("push", "--server", server, "--token", OtaServerFactory.PushToken, notRepo, "main");
        Assert.NotEqual(0, r1.Code);
        Assert.Contains("not an archive", r1.Err);

        var bare = _tmp.Combine("bare");
        OstreeCli.Run("init", "--mode=bare-user", "--repo=" + bare);
        var r2 = await OtactlAsync("push", "--server", server, "--token", OtaServerFactory.PushToken, bare, "main");
        Assert.Contains("not an archive", r2.Err);

        var local = _tmp.Combine("build");
        var tree = _tmp.Combine("tree");
        TestTrees.Write(tree, 1);
        LocalRepos.Commit(local, tree);
        var r3 = await OtactlAsync("push", "--server", server, "--token", OtaServerFactory.PushToken, local, "no-such-ref");
        Assert.NotEqual(0, r3.Code);
        Assert.Contains("Unknown ref", r3.Err);

        var r4 = await OtactlAsync("push", "--server", server, "--token", OtaServerFactory.ReadToken, local, "main");
        Assert.NotEqual(0, r4.Code);
        Assert.Contains("403", r4.Err);
    }

    [Fact]
    public async Task Push_OfManyObjects_AsksInBatches_SendsOnlyTheMissing_AndMovesTheRef()
    {
        var server = _factory.StartKestrel();
        var tree = _tmp.Combine("many");
        for (var i = 0; i < 2_600; i++)
        {
            var dir = Path.Combine(tree, "d" + (i % 40));
            Directory.CreateDirectory(dir);
            File.WriteAllText(Path.Combine(dir, "f" + i), "file " + i + new string('x', i % 300));
        }
        var local = _tmp.Combine("build");
        var commit = LocalRepos.Commit(local, tree);
        var paths = LocalRepos.ObjectPaths(local);
        Assert.True(paths.Count > 2_600);

        // An earlier, interrupted push left every other object on the server.
        var http = _factory.CreateClient(OtaServerFactory.PushToken);
        var content = new ByteArrayContent(LocalRepos.Tar(local, paths.Where((_, i) => i % 2 == 0)));
        Assert.Equal(System.Net.HttpStatusCode.OK, (await http.PostAsync("/api/v1/repos/main/objects", content)).StatusCode);
        var already = (paths.Count + 1) / 2;
        _factory.Requests.Clear();

        var push = await OtactlAsync("push", "--server", server.ToString(), "--token", OtaServerFactory.PushToken, local, "main");
        Assert.True(push.Code == 0, push.Err);
        Assert.Contains($"({paths.Count - already} of {paths.Count} objects uploaded", push.Out);
        var posts = _factory.Requests.Where(r => r.Method == "POST").Select(r => r.Path).ToList();
        Assert.Equal((paths.Count + 999) / 1000, posts.Count(p => p.EndsWith("/objects/missing", StringComparison.Ordinal)));
        Assert.Equal(1, posts.Count(p => p.EndsWith("/objects", StringComparison.Ordinal)));
        Assert.Equal(commit, File.ReadAllText(Path.Combine(_factory.RepoRoot(), "refs/heads/main")).Trim());
        OstreeCli.Run("fsck", "--repo=" + _factory.RepoRoot());

        // Nothing missing: no upload at all, and the ref stays.
        _factory.Requests.Clear();
        var again = await OtactlAsync("push", "--server", server.ToString(), "--token", OtaServerFactory.PushToken, local, "main");
        Assert.True(again.Code == 0, again.Err);
        Assert.Contains($"(0 of {paths.Count} objects uploaded, 0 bytes)", again.Out);
        Assert.DoesNotContain(_factory.Requests, r => r.Method == "POST" && r.Path.EndsWith("/objects", StringComparison.Ordinal));
    }
}
