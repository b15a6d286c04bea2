using OtaServer.Tests.EndToEnd;
using OtaServer.Tests.Infrastructure;

namespace OtaServer.Tests.Workflow;

/// <summary><c>otactl push --version</c>: the README's option order parses, and a refused version changes nothing.</summary>
public sealed class PushWithVersionTests : IDisposable
{
    private readonly TempDirectory _tmp = new();
    private readonly OtaServerFactory _factory = new();

    public void Dispose()
    {
        _factory.Dispose();
        _tmp.Dispose();
    }

    private string[] Auth(Uri server) => ["--server", server.ToString(), "--token", OtaServerFactory.PushToken];

    [Fact]
    public async Task Push_OptionsBeforePositionals_TakeOneValuePerToken()
    {
        var server = _factory.StartKestrel();
        var local = _tmp.Combine("build-repo");
        var tree = _tmp.Combine("tree");
        TestTrees.Write(tree, 1);
        var v1 = LocalRepos.Commit(local, tree, subject: "v1");

        var r = await PushAndPullTests.OtactlAsync(["push", "--version", "2", "-T", "master,beta", "--hw-id", "rpi4", "-T", "qa", local, "main", .. Auth(server)]);

        Assert.True(r.Code == 0, r.Err + r.Out);
        Assert.Contains($"Target 2 created for {v1} (tags: beta,master,qa)", r.Out);
    }

    [Fact]
    public async Task Push_WithATakenVersion_IsRefusedBeforeUploadingOrMovingTheRef()
    {
        var server = _factory.StartKestrel();
        var local = _tmp.Combine("build-repo");
        var tree = _tmp.Combine("tree");
        TestTrees.Write(tree, 1);
        var v1 = LocalRepos.Commit(local, tree, subject: "v1");
        var first = await PushAndPullTests.OtactlAsync(["push", "--version", "3", local, "main", .. Auth(server)]);
        Assert.True(first.Code == 0, first.Err);
        TestTrees.Write(tree, 2, extraFiles: 3);
        var v2 = LocalRepos.Commit(local, tree, subject: "v2");
        var uploadsBefore = _factory.Requests.Count(q => q.Method == "POST" && q.Path.EndsWith("/objects", StringComparison.Ordinal));

        var again = await PushAndPullTests.OtactlAsync(["push", "--version", "3", local, "main", .. Auth(server)]);

        Assert.Equal(OtaCtl.ExitCodes.Conflict, again.Code);
        Assert.Contains("Target version 3 already exists", again.Err);
        Assert.Equal(v1, File.ReadAllText(Path.Combine(_factory.RepoRoot(), "refs", "heads", "main")).Trim());
        Assert.Equal(uploadsBefore, _factory.Requests.Count(q => q.Method == "POST" && q.Path.EndsWith("/objects", StringComparison.Ordinal)));
        Assert.False(File.Exists(Path.Combine(_factory.RepoRoot(), "objects", v2[..2], v2[2..] + ".commit")));
    }
}
