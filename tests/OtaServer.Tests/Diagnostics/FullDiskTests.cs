using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using OtaServer.Tests.Infrastructure;

namespace OtaServer.Tests.Diagnostics;

/// <summary>
/// The data folder on a small tmpfs that the test fills: writes of the database and of the repository answer
/// 507 with a ProblemDetails, leave nothing half-written, and work again once space is freed, with no restart.
/// </summary>
public sealed class FullDiskTests : IDisposable
{
    private readonly TempDirectory _tmp = new();
    private readonly string _mount;
    private readonly OtaServerFactory _factory;

    public FullDiskTests()
    {
        _mount = _tmp.Combine("small-disk");
        Directory.CreateDirectory(_mount);
        var mount = OstreeCli.Exec("mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", _mount);
        Assert.True(mount.ExitCode == 0, "the test needs root to mount a tmpfs: " + mount.StdErr);
        _factory = new OtaServerFactory(dataDir: Path.Combine(_mount, "data"));
    }

    public void Dispose()
    {
        _factory.Dispose();
        OstreeCli.Exec("umount", "-l", _mount);
        _tmp.Dispose();
    }

    /// <summary>Writes a filler file until the filesystem refuses another byte.</summary>
    private string FillDisk()
    {
        var filler = Path.Combine(_mount, "filler");
        var chunk = new byte[64 * 1024];
        using var fs = new FileStream(filler, FileMode.Create, FileAccess.Write, FileShare.None, 1);
        try
        {
            while (true)
                fs.Write(chunk);
        }
        catch (IOException)
        {
        }
        for (var size = chunk.Length / 2; size > 0; size /= 2)
        {
            try
            {
                fs.Write(chunk, 0, size);
            }
            catch (IOException)
            {
            }
        }
        try { fs.Flush(); } catch (IOException) { }
        return filler;
    }

    private static async Task AssertInsufficientStorageAsync(HttpResponseMessage response)
    {
        Assert.Equal(HttpStatusCode.InsufficientStorage, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal(507, problem.GetProperty("status").GetInt32());
    }

    [Fact]
    public async Task FullDisk_Answers507_LeavesNoTemporaryFile_AndRecoversWithoutRestart()
    {
        var client = _factory.CreateClient(OtaServerFactory.AdminToken);
        var repo = _tmp.Combine("local");
        var tree = _tmp.Combine("tree");
        TestTrees.Write(tree, 1);
        var v1 = LocalRepos.Commit(repo, tree, subject: "v1");
        TestTrees.Write(tree, 2);
        var v2 = LocalRepos.Commit(repo, tree, subject: "v2");
        var objects = LocalRepos.ObjectPaths(repo);
        var upload = await client.PostAsync("/api/v1/repos/main/objects", new ByteArrayContent(LocalRepos.Tar(repo, objects)));
        Assert.Equal(HttpStatusCode.OK, upload.StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.PutAsJsonAsync("/api/v1/repos/main/refs/main", new { commit = v1 })).StatusCode);
        var token = new { tag = "main", uses = 1 };
        Assert.Equal(HttpStatusCode.Created, (await client.PostAsJsonAsync("/api/v1/devices/registration-tokens", token)).StatusCode);

        var filler = FillDisk();

        // The database cannot grow: a generic 500 before, now 507.
        for (var i = 0; i < 50; i++)
        {
            var response = await client.PostAsJsonAsync("/api/v1/devices/registration-tokens", token);
            if (response.StatusCode == HttpStatusCode.Created)
                continue; // pages SQLite had free; the next ones need space
            await AssertInsufficientStorageAsync(response);
            break;
        }
        await AssertInsufficientStorageAsync(await client.PostAsJsonAsync("/api/v1/devices/registration-tokens", token));

        // The ref write cannot go through: 507, the ref stays on v1, and no temporary file is left beside it.
        await AssertInsufficientStorageAsync(await client.PutAsJsonAsync("/api/v1/repos/main/refs/main", new { commit = v2, expected = v1 }));
        var refs = Path.Combine(_factory.RepoRoot(), "refs");
        Assert.DoesNotContain(Directory.EnumerateFiles(refs, "*", SearchOption.AllDirectories), f => Path.GetFileName(f).Contains(".tmp-"));
        Assert.Equal(v1, File.ReadAllText(Path.Combine(refs, "heads", "main")).Trim());
        Assert.Empty(Directory.EnumerateFiles(_factory.RepoRoot(), ".summary.tmp-*"));

        // Space is freed: the same calls succeed on the running server.
        File.Delete(filler);
        Assert.Equal(HttpStatusCode.Created, (await client.PostAsJsonAsync("/api/v1/devices/registration-tokens", token)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.PutAsJsonAsync("/api/v1/repos/main/refs/main", new { commit = v2, expected = v1 })).StatusCode);
        OstreeCli.Run("fsck", "--repo=" + _factory.RepoRoot());
    }
}
