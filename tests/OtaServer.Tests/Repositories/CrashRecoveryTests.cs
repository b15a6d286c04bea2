using System.Net;
using System.Net.Http.Json;
using OtaServer.OSTree;
using OtaServer.Tests.Deltas;
using OtaServer.Tests.Infrastructure;

namespace OtaServer.Tests.Repositories;

/// <summary>
/// The states a <c>kill -9</c> leaves between two steps of a repository write, made on disk while the server is
/// stopped; the next start must repair them: summary equal to the refs and deltas on disk, no temporary file
/// left, <c>ostree fsck</c> clean, and a real client pulls the ref's commit.
/// </summary>
public sealed class CrashRecoveryTests : IDisposable
{
    private readonly TempDirectory _tmp = new();
    private readonly TempDirectory _data = new("ota-crash");
    private readonly List<OtaServerFactory> _servers = [];

    public void Dispose()
    {
        foreach (var s in _servers)
            s.Dispose();
        _data.Dispose();
        _tmp.Dispose();
    }

    private OtaServerFactory Start(IDictionary<string, string?>? settings = null)
    {
        foreach (var s in _servers)
            s.Dispose(); // one server at a time on the data folder, as after a crash and restart
        var server = new OtaServerFactory(settings, _data.Path);
        _servers.Add(server);
        server.StartKestrel();
        return server;
    }

    private string Root => Path.Combine(_data.Path, "repos", "main");

    private async Task<(string V1, string V2)> PushTwoVersionsAsync(OtaServerFactory server, bool moveToV2)
    {
        var local = _tmp.Combine("build");
        var tree = _tmp.Combine("tree");
        TestTrees.Write(tree, 1, extraFiles: 20);
        var v1 = LocalRepos.Commit(local, tree, subject: "v1");
        await PushAsync(server, local);
        TestTrees.Write(tree, 2, extraFiles: 30);
        var v2 = LocalRepos.Commit(local, tree, subject: "v2");
        if (moveToV2)
        {
            await PushAsync(server, local);
        }
        else
        {
            var client = server.CreateClient(OtaServerFactory.PushToken);
            var upload = await client.PostAsync("/api/v1/repos/main/objects", new ByteArrayContent(LocalRepos.Tar(local, LocalRepos.ObjectPaths(local))));
            Assert.Equal(HttpStatusCode.OK, upload.StatusCode);
        }
        return (v1, v2);
    }

    private static async Task PushAsync(OtaServerFactory server, string local)
    {
        var stderr = new StringWriter();
        var code = await OtaCtl.Cli.RunAsync(["push", "--server", server.KestrelAddress!.ToString(), "--token", OtaServerFactory.PushToken, local, "main"],
            new StringWriter(), stderr, CancellationToken.None);
        Assert.True(code == 0, stderr.ToString());
    }

    private Summary ReadSummary() => Summary.Parse(File.ReadAllBytes(Path.Combine(Root, "summary")));

    private void AssertNoTemporaryFiles()
    {
        var leftovers = Directory.EnumerateFileSystemEntries(Root, "*", SearchOption.AllDirectories)
            .Select(p => Path.GetRelativePath(Root, p))
            .Where(p => p.Contains(".tmp-") || p.StartsWith("tmp/delta-") || p.StartsWith("tmp/trash-") || p.StartsWith("tmp/ingest-"))
            .ToList();
        Assert.True(leftovers.Count == 0, string.Join("\n", leftovers));
    }

    private void AssertClientPulls(OtaServerFactory server, string commit)
    {
        var client = _tmp.Combine("client-" + Guid.NewGuid().ToString("N"));
        OstreeCli.Run("init", "--mode=bare-user", "--repo=" + client);
        OstreeCli.Run("remote", "add", "--repo=" + client, "--no-gpg-verify", "ota", new Uri(server.KestrelAddress!, "repos/main").ToString());
        OstreeCli.Run("pull", "--repo=" + client, "ota", "main");
        Assert.Equal(commit, OstreeCli.Run("rev-parse", "--repo=" + client, "ota:main").Trim());
        OstreeCli.Run("fsck", "--repo=" + client);
    }

    private static async Task<string> GenerateDeltaAsync(OtaServerFactory server, string from, string to)
    {
        var admin = server.CreateClient(OtaServerFactory.AdminToken);
        var response = await admin.PostAsJsonAsync("/api/v1/repos/main/deltas", new { from, to });
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var job = await DeltaPullTests.WaitForJobAsync(admin, response.Headers.Location!.ToString());
        Assert.Equal("Succeeded", job.GetProperty("status").GetString());
        return new DeltaName(Checksum.Parse(from), Checksum.Parse(to)).RelativeDirectory;
    }

    [Fact]
    public async Task KilledBetweenRefWriteAndSummary_RestartServesTheNewCommit_AndRemovesEveryLeftover()
    {
        var server = Start();
        var (v1, v2) = await PushTwoVersionsAsync(server, moveToV2: false);
        Assert.Equal(v1, ReadSummary().FindRef("main")!.Commit.ToString());
        server.Dispose();

        // The kill: the ref file already names v2, the summary still v1; writers' temporary files are left behind.
        File.WriteAllText(Path.Combine(Root, "refs/heads/main"), v2 + "\n");
        File.WriteAllBytes(Path.Combine(Root, "refs/heads/.main.tmp-0123"), []);
        File.WriteAllBytes(Path.Combine(Root, ".summary.tmp-4567"), [1, 2, 3]);
        Directory.CreateDirectory(Path.Combine(Root, "tmp/delta-89ab/part")).ToString();
        File.WriteAllBytes(Path.Combine(Root, "tmp/delta-89ab/superblock"), [0]);
        Directory.CreateDirectory(Path.Combine(Root, "tmp/trash-cdef"));

        server = Start();
        Assert.Equal(v2, ReadSummary().FindRef("main")!.Commit.ToString());
        AssertNoTemporaryFiles();
        OstreeCli.Run("fsck", "--repo=" + Root);
        AssertClientPulls(server, v2);
        var refs = await server.CreateClient(OtaServerFactory.AdminToken).GetStringAsync("/api/v1/repos/main/refs");
        Assert.Contains(v2, refs);
    }

    [Fact]
    public async Task Restart_WithASummaryThatMatches_LeavesItUntouched()
    {
        var server = Start();
        await PushTwoVersionsAsync(server, moveToV2: true);
        var before = File.ReadAllBytes(Path.Combine(Root, "summary"));
        server.Dispose();
        Start();
        Assert.Equal(before, File.ReadAllBytes(Path.Combine(Root, "summary")));
    }

    [Fact]
    public async Task KilledBetweenDeltaPublicationAndSummary_RestartListsTheDelta()
    {
        var server = Start();
        var (v1, v2) = await PushTwoVersionsAsync(server, moveToV2: true);
        var dir = await GenerateDeltaAsync(server, v1, v2);
        var withDelta = ReadSummary();
        Assert.Single(withDelta.Deltas);
        server.Dispose();

        // The kill: the delta folder is in place, the summary (and its index) written before it was.
        var repo = new ArchiveRepository(Root);
        var summaryWithout = SummaryWriter.Write(repo.ListSummaryRefs(), [], new SummaryOptions { Mode = "archive-z2" });
        File.WriteAllBytes(Path.Combine(Root, "summary"), summaryWithout);
        foreach (var index in Directory.EnumerateFiles(Path.Combine(Root, "delta-indexes"), "*.index", SearchOption.AllDirectories))
            File.Delete(index);

        server = Start();
        var summary = ReadSummary();
        Assert.Equal(withDelta.Deltas, summary.Deltas);
        Assert.NotEmpty(Directory.EnumerateFiles(Path.Combine(Root, "delta-indexes"), "*.index", SearchOption.AllDirectories));
        Assert.True(Directory.Exists(Path.Combine(Root, dir)));
        OstreeCli.Run("fsck", "--repo=" + Root);
    }

    [Fact]
    public async Task KilledBetweenDeltaDeleteMarkerAndSummary_RestartUnlistsIt_AndAnEmptyMarkerDoesNotBlockCleanup()
    {
        var settings = new Dictionary<string, string?>
        {
            ["OtaServer:Deltas:DeleteGracePeriod"] = "00:00:00",
            ["OtaServer:Deltas:CleanupInterval"] = "00:00:00.200",
        };
        var server = Start(settings);
        var (v1, v2) = await PushTwoVersionsAsync(server, moveToV2: true);
        var dir = await GenerateDeltaAsync(server, v1, v2);
        server.Dispose();

        // The kill: a 0-byte marker (the old non-atomic write), the summary still lists the delta.
        File.WriteAllBytes(Path.Combine(Root, dir, ".deleted"), []);
        Assert.Single(ReadSummary().Deltas);

        server = Start(settings);
        Assert.Empty(ReadSummary().Deltas);
        for (var i = 0; i < 100 && Directory.Exists(Path.Combine(Root, dir)); i++)
            await Task.Delay(100);
        Assert.False(Directory.Exists(Path.Combine(Root, dir)), "the cleanup removes the deleted delta's files");
        Assert.Empty(ReadSummary().Deltas);
        var show = OstreeCli.TryRun("static-delta", "list", "--repo=" + Root);
        Assert.Equal(0, show.ExitCode);
        AssertNoTemporaryFiles();
        OstreeCli.Run("fsck", "--repo=" + Root);
        AssertClientPulls(server, v2);
    }

    [Fact]
    public async Task Upload_OfACommitBeforeItsTree_StoresItAsPartial_UntilTheRefMoves()
    {
        var server = Start();
        var local = _tmp.Combine("build");
        var tree = _tmp.Combine("tree");
        TestTrees.Write(tree, 1);
        var v1 = LocalRepos.Commit(local, tree, subject: "v1");
        var commitPath = LocalRepos.ObjectPaths(local).Single(p => p.EndsWith(".commit"));
        var partial = Path.Combine(Root, "state", v1 + ".commitpartial");
        var client = server.CreateClient(OtaServerFactory.PushToken);
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsync("/api/v1/repos/main/objects", new ByteArrayContent(LocalRepos.Tar(local, [commitPath])))).StatusCode);
        Assert.True(File.Exists(Path.Combine(Root, commitPath)));
        Assert.True(File.Exists(partial), "a commit stored without its tree is marked partial, as ostree pull does");
        OstreeCli.Run("fsck", "--repo=" + Root); // a partial commit is not corruption

        // The commit first in the tar: the workers verify in parallel, but it is stored after its tree.
        var all = LocalRepos.ObjectPaths(local).OrderBy(p => p.EndsWith(".commit") ? 0 : 1).ToList();
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsync("/api/v1/repos/main/objects", new ByteArrayContent(LocalRepos.Tar(local, all)))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.PutAsJsonAsync("/api/v1/repos/main/refs/main", new { commit = v1 })).StatusCode);
        Assert.False(File.Exists(partial), "the ref move, which needs the whole commit, clears the mark");
        OstreeCli.Run("fsck", "--repo=" + Root);
        AssertClientPulls(server, v1);
    }

    [Fact]
    public async Task Upload_OfACompleteCommit_LeavesNoPartialMark()
    {
        var server = Start();
        var local = _tmp.Combine("build");
        var tree = _tmp.Combine("tree");
        TestTrees.Write(tree, 1);
        var v1 = LocalRepos.Commit(local, tree, subject: "v1");
        var all = LocalRepos.ObjectPaths(local).OrderBy(p => p.EndsWith(".commit") ? 0 : 1).ToList();
        var client = server.CreateClient(OtaServerFactory.PushToken);
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsync("/api/v1/repos/main/objects", new ByteArrayContent(LocalRepos.Tar(local, all)))).StatusCode);
        Assert.False(File.Exists(Path.Combine(Root, "state", v1 + ".commitpartial")));
    }
}
