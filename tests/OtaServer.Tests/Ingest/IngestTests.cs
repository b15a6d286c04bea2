using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using OtaServer.Tests.Infrastructure;

namespace OtaServer.Tests.Ingest;

public sealed class IngestTests : IDisposable
{
    private readonly TempDirectory _tmp = new();
    private readonly OtaServerFactory _factory = new();

    public void Dispose()
    {
        _factory.Dispose();
        _tmp.Dispose();
    }

    private (string Repo, string Commit) MakeLocalCommit(int version, string? repo = null)
    {
        repo ??= _tmp.Combine("local");
        var tree = _tmp.Combine("tree" + version);
        TestTrees.Write(tree, version);
        return (repo, LocalRepos.Commit(repo, tree, subject: "v" + version));
    }

    private static async Task<HttpResponseMessage> UploadAsync(HttpClient client, byte[] body, string? encoding = null)
    {
        var content = new ByteArrayContent(body);
        if (encoding is not null)
            content.Headers.ContentEncoding.Add(encoding);
        return await client.PostAsync("/api/v1/repos/main/objects", content);
    }

    private static async Task<JsonElement> JsonAsync(HttpResponseMessage response) =>
        JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;

    private string ServerObject(string rel) => Path.Combine(_factory.RepoRoot(), rel);

    [Fact]
    public async Task MissingObjects_ListsOnlyAbsentOnes()
    {
        var (repo, _) = MakeLocalCommit(1);
        var client = _factory.CreateClient(OtaServerFactory.PushToken);
        var names = LocalRepos.ObjectPaths(repo).Select(p => p[8..].Replace("/", "")).ToList();
        var first = await client.PostAsJsonAsync("/api/v1/repos/main/objects/missing", new { objects = names });
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(names.Count, (await JsonAsync(first)).GetProperty("missing").GetArrayLength());

        var upload = await UploadAsync(client, LocalRepos.Tar(repo, LocalRepos.ObjectPaths(repo).Take(3)));
        Assert.Equal(HttpStatusCode.OK, upload.StatusCode);
        var second = await client.PostAsJsonAsync("/api/v1/repos/main/objects/missing", new { objects = names });
        Assert.Equal(names.Count - 3, (await JsonAsync(second)).GetProperty("missing").GetArrayLength());
    }

    [Fact]
    public async Task MissingObjects_HandlesOneHundredThousandNames()
    {
        var client = _factory.CreateClient(OtaServerFactory.PushToken);
        var names = Enumerable.Range(0, 100_000)
            .Select(i => Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(BitConverter.GetBytes(i))) + ".filez")
            .ToList();
        var response = await client.PostAsJsonAsync("/api/v1/repos/main/objects/missing", new { objects = names });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(100_000, (await JsonAsync(response)).GetProperty("missing").GetArrayLength());
    }

    [Fact]
    public async Task MissingObjects_InvalidName_Returns400Problem()
    {
        var client = _factory.CreateClient(OtaServerFactory.PushToken);
        var response = await client.PostAsJsonAsync("/api/v1/repos/main/objects/missing", new { objects = new[] { "../../etc/passwd" } });
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("zstd")]
    [InlineData("gzip")]
    [InlineData("zstd-magic")]
    [InlineData("gzip-magic")]
    public async Task Upload_WholeRepositoryTarball_ImportsEveryObject(string? encoding)
    {
        var (repo, _) = MakeLocalCommit(1);
        var paths = LocalRepos.ObjectPaths(repo);
        // A whole-repository tarball under a leading folder: config and refs are ignored, objects taken.
        var files = new List<string>(paths) { "config", "refs/heads/main" };
        var tar = LocalRepos.Tar(repo, files, prefix: "./build/repo/");
        var (body, header) = encoding switch
        {
            "zstd" => (Compress.Zstd(tar), "zstd"),
            "gzip" => (Compress.Gzip(tar), "gzip"),
            "zstd-magic" => (Compress.Zstd(tar), null),
            "gzip-magic" => (Compress.Gzip(tar), null),
            _ => (tar, null),
        };
        var client = _factory.CreateClient(OtaServerFactory.PushToken);
        var response = await UploadAsync(client, body, header);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var json = await JsonAsync(response);
        Assert.Equal(paths.Count, json.GetProperty("received").GetInt32());
        Assert.Equal(paths.Count, json.GetProperty("created").GetInt32());
        Assert.Equal(2, json.GetProperty("ignored").GetInt32());
        foreach (var p in paths)
            Assert.Equal(await File.ReadAllBytesAsync(Path.Combine(repo, p)), await File.ReadAllBytesAsync(ServerObject(p)));

        var again = await JsonAsync(await UploadAsync(client, body, header));
        Assert.Equal(0, again.GetProperty("created").GetInt32());
        Assert.Equal(paths.Count, again.GetProperty("alreadyPresent").GetInt32());
    }

    [Fact]
    public async Task Upload_ObjectWithWrongHash_Returns422NamingIt_AndNeverStoresIt()
    {
        var (repo, _) = MakeLocalCommit(1);
        var paths = LocalRepos.ObjectPaths(repo);
        var filez = paths.First(p => p.EndsWith(".filez"));
        var wrongName = "objects/ab/" + new string('c', 62) + ".filez";
        var entries = paths.Where(p => p != filez).Select(p => (p, File.ReadAllBytes(Path.Combine(repo, p)))).ToList();
        entries.Add((wrongName, File.ReadAllBytes(Path.Combine(repo, filez))));
        var client = _factory.CreateClient(OtaServerFactory.PushToken);
        var response = await UploadAsync(client, LocalRepos.Tar(entries));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
        var problem = await JsonAsync(response);
        Assert.Contains("ab" + new string('c', 62) + ".filez", problem.GetProperty("detail").GetString());
        Assert.Contains("was rejected and not stored", problem.GetProperty("detail").GetString());
        Assert.False(File.Exists(ServerObject(wrongName)));
        AssertEveryStoredObjectVerifies();
        AssertNoStagingLeft();
    }

    [Fact]
    public async Task Upload_CorruptMetadata_Returns422()
    {
        var bogus = "not a dirtree at all"u8.ToArray();
        var hex = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bogus));
        var name = $"objects/{hex[..2]}/{hex[2..]}.dirtree";
        var client = _factory.CreateClient(OtaServerFactory.PushToken);
        var response = await UploadAsync(client, LocalRepos.Tar([(name, bogus)]));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
        Assert.False(File.Exists(ServerObject(name)));
    }

    [Theory]
    [InlineData("truncated-tar")]
    [InlineData("truncated-zstd")]
    [InlineData("corrupt-zstd")]
    public async Task Upload_BrokenStream_ReturnsClearError_KeepsOnlyVerifiedObjects_AndTheRetryResumes(string kind)
    {
        var (repo, _) = MakeLocalCommit(1);
        var paths = LocalRepos.ObjectPaths(repo);
        var tar = LocalRepos.Tar(repo, paths);
        var zstd = Compress.Zstd(tar);
        byte[] body = kind switch
        {
            "truncated-tar" => tar[..(tar.Length / 2)],
            "truncated-zstd" => zstd[..(zstd.Length / 2)],
            _ => [.. zstd[..16], .. Enumerable.Repeat((byte)0x5A, zstd.Length - 16)],
        };
        var client = _factory.CreateClient(OtaServerFactory.PushToken);
        var response = await UploadAsync(client, body);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        AssertEveryStoredObjectVerifies();
        AssertNoStagingLeft();

        // The retry sends only what is missing, and completes the set.
        var missing = await MissingAsync(client, paths);
        if (kind == "truncated-tar") // the objects before the cut arrived whole, so they were kept
            Assert.InRange(missing.Count, 1, paths.Count - 1);
        var retry = await UploadAsync(client, LocalRepos.Tar(repo, missing));
        Assert.Equal(HttpStatusCode.OK, retry.StatusCode);
        Assert.Equal(missing.Count, (await JsonAsync(retry)).GetProperty("created").GetInt32());
        Assert.All(paths, p => Assert.True(File.Exists(ServerObject(p))));
    }

    [Fact]
    public async Task UpdateRef_IncompleteCommit_Returns422ListingMissing()
    {
        var (repo, commit) = MakeLocalCommit(1);
        var paths = LocalRepos.ObjectPaths(repo);
        var withoutFiles = paths.Where(p => !p.EndsWith(".filez")).ToList();
        var client = _factory.CreateClient(OtaServerFactory.PushToken);
        Assert.Equal(HttpStatusCode.OK, (await UploadAsync(client, LocalRepos.Tar(repo, withoutFiles))).StatusCode);
        var response = await client.PutAsJsonAsync("/api/v1/repos/main/refs/main", new { commit, expected = (string?)null });
        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
        var problem = await JsonAsync(response);
        var missing = problem.GetProperty("objects").EnumerateArray().Select(e => e.GetString()).ToList();
        Assert.Equal(paths.Count(p => p.EndsWith(".filez")), missing.Count);
        Assert.All(missing, m => Assert.EndsWith(".filez", m));
        Assert.False(File.Exists(Path.Combine(_factory.RepoRoot(), "refs/heads/main")));
    }

    [Fact]
    public async Task UpdateRef_CompareAndSwapAndFastForwardRules()
    {
        var repo = _tmp.Combine("local");
        var (_, v1) = MakeLocalCommit(1, repo);
        var (_, v2) = MakeLocalCommit(2, repo);          // child of v1 on the same branch
        var otherRepo = _tmp.Combine("other");
        var (_, unrelated) = MakeLocalCommit(3, otherRepo);
        var client = _factory.CreateClient(OtaServerFactory.PushToken);
        await UploadAsync(client, LocalRepos.Tar(repo, LocalRepos.ObjectPaths(repo)));
        await UploadAsync(client, LocalRepos.Tar(otherRepo, LocalRepos.ObjectPaths(otherRepo)));

        Assert.Equal(HttpStatusCode.OK, (await client.PutAsJsonAsync("/api/v1/repos/main/refs/main", new { commit = v1, expected = (string?)null })).StatusCode);
        // expected is stale (null while the ref exists) → 409
        Assert.Equal(HttpStatusCode.Conflict, (await client.PutAsJsonAsync("/api/v1/repos/main/refs/main", new { commit = v2, expected = (string?)null })).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.PutAsJsonAsync("/api/v1/repos/main/refs/main", new { commit = v2, expected = v1 })).StatusCode);
        // not a descendant → 409 unless forced
        var nonFf = await client.PutAsJsonAsync("/api/v1/repos/main/refs/main", new { commit = unrelated, expected = v2 });
        Assert.Equal(HttpStatusCode.Conflict, nonFf.StatusCode);
        Assert.Contains("descend", (await JsonAsync(nonFf)).GetProperty("detail").GetString());
        Assert.Equal(v2, (await File.ReadAllTextAsync(Path.Combine(_factory.RepoRoot(), "refs/heads/main"))).Trim());
        Assert.Equal(HttpStatusCode.OK, (await client.PutAsJsonAsync("/api/v1/repos/main/refs/main", new { commit = unrelated, expected = v2, force = true })).StatusCode);

        var refs = await client.GetFromJsonAsync<JsonElement>("/api/v1/repos/main/refs");
        Assert.Equal(unrelated, refs.EnumerateArray().Single(r => r.GetProperty("name").GetString() == "main").GetProperty("commit").GetString());
        // The summary follows the ref: the real client parses it.
        var summary = OstreeCli.Run("summary", "--view", "--repo=" + _factory.RepoRoot());
        Assert.Contains(unrelated, summary);
    }

    [Fact]
    public async Task ConcurrentPushes_OfOverlappingObjects_BothSucceed()
    {
        var (repo, _) = MakeLocalCommit(1);
        var paths = LocalRepos.ObjectPaths(repo);
        var a = LocalRepos.Tar(repo, paths.Take(paths.Count * 2 / 3));
        var b = LocalRepos.Tar(repo, paths.Skip(paths.Count / 3));
        var client = _factory.CreateClient(OtaServerFactory.PushToken);
        var results = await Task.WhenAll(Enumerable.Range(0, 6).Select(i => UploadAsync(client, i % 2 == 0 ? a : b)));
        Assert.All(results, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        var created = 0;
        foreach (var r in results)
            created += (await JsonAsync(r)).GetProperty("created").GetInt32();
        Assert.Equal(paths.Count, created);
        Assert.All(paths, p => Assert.True(File.Exists(ServerObject(p))));
        AssertNoStagingLeft();
    }

    [Fact]
    public async Task AbortedUpload_LeavesRepositoryPassingFsck()
    {
        var address = _factory.StartKestrel();
        var (repo, commit) = MakeLocalCommit(1);
        var client = _factory.CreateClient(OtaServerFactory.PushToken);
        var paths = LocalRepos.ObjectPaths(repo);
        await UploadAsync(client, LocalRepos.Tar(repo, paths));
        Assert.Equal(HttpStatusCode.OK, (await client.PutAsJsonAsync("/api/v1/repos/main/refs/main", new { commit })).StatusCode);

        // A second commit whose upload dies halfway through, on a real socket.
        var (_, v2) = MakeLocalCommit(2, repo);
        var newPaths = LocalRepos.ObjectPaths(repo).Except(paths).ToList();
        var tar = LocalRepos.Tar(repo, newPaths);
        using (var tcp = new System.Net.Sockets.TcpClient())
        {
            await tcp.ConnectAsync(address.Host, address.Port);
            var stream = tcp.GetStream();
            var head = $"POST /api/v1/repos/main/objects HTTP/1.1\r\nHost: {address.Authority}\r\nAuthorization: Bearer {OtaServerFactory.PushToken}\r\nContent-Length: {tar.Length}\r\n\r\n";
            await stream.WriteAsync(System.Text.Encoding.ASCII.GetBytes(head));
            await stream.WriteAsync(tar.AsMemory(0, tar.Length / 2));
            await stream.FlushAsync();
            tcp.Client.Shutdown(System.Net.Sockets.SocketShutdown.Both);
        }
        // Wait until the server has dropped the staging folder of the aborted upload.
        var staging = Path.Combine(_factory.RepoRoot(), "tmp");
        for (var i = 0; i < 100 && Directory.EnumerateDirectories(staging, "ingest-*").Any(); i++)
            await Task.Delay(100);
        AssertNoStagingLeft();
        AssertEveryStoredObjectVerifies();
        OstreeCli.Run("fsck", "--repo=" + _factory.RepoRoot());

        // The push is retried: only the missing objects go up, then the ref moves to v2.
        var missing = await MissingAsync(client, newPaths);
        Assert.Equal(HttpStatusCode.OK, (await UploadAsync(client, LocalRepos.Tar(repo, missing))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.PutAsJsonAsync("/api/v1/repos/main/refs/main", new { commit = v2, expected = commit })).StatusCode);
        OstreeCli.Run("fsck", "--repo=" + _factory.RepoRoot());
    }

    [Fact]
    public async Task PushRoutes_RequirePushScope()
    {
        var anonymous = _factory.CreateClient();
        var read = _factory.CreateClient(OtaServerFactory.ReadToken);
        var wrong = _factory.CreateClient("not-a-token");
        var body = new { objects = Array.Empty<string>() };
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.PostAsJsonAsync("/api/v1/repos/main/objects/missing", body)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await wrong.PostAsJsonAsync("/api/v1/repos/main/objects/missing", body)).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await read.PostAsJsonAsync("/api/v1/repos/main/objects/missing", body)).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await read.PutAsJsonAsync("/api/v1/repos/main/refs/main", new { commit = new string('a', 64) })).StatusCode);
        var admin = _factory.CreateClient(OtaServerFactory.PushToken);
        Assert.Equal(HttpStatusCode.OK, (await admin.PostAsJsonAsync("/api/v1/repos/main/objects/missing", body)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await admin.PostAsJsonAsync("/api/v1/repos/nope/objects/missing", body)).StatusCode);
    }

    [Fact]
    public async Task Upload_WhenTheServerCannotStore_Answers500NamingTheObject_NotABadRequest()
    {
        var (repo, _) = MakeLocalCommit(1);
        var paths = LocalRepos.ObjectPaths(repo);
        var victim = paths.First(p => p.EndsWith(".filez", StringComparison.Ordinal));
        var client = _factory.CreateClient(OtaServerFactory.PushToken); // starts the server: the repository exists
        // objects/XX is a file, so the object's folder cannot be made (as root, permissions would not stop it).
        File.WriteAllText(ServerObject(victim[..10]), "in the way");
        var response = await UploadAsync(client, LocalRepos.Tar(repo, [victim]));
        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        var problem = await JsonAsync(response);
        Assert.Equal("Storage failure", problem.GetProperty("title").GetString());
        Assert.Contains(victim[8..10] + victim[11..], problem.GetProperty("detail").GetString());
    }

    [Fact]
    public void Start_RemovesTheTemporaryFilesOfUploadsCutShortByACrash()
    {
        var data = _tmp.Combine("data");
        var root = Path.Combine(data, "repos", "main");
        Directory.CreateDirectory(Path.Combine(root, "tmp", "ingest-0123", "ab"));
        File.WriteAllText(Path.Combine(root, "config"), "[core]\nrepo_version=1\nmode=archive-z2\n");
        File.WriteAllText(Path.Combine(root, "tmp", "ingest-0123", "ab", "cd.filez"), "partial");
        File.WriteAllText(Path.Combine(root, "tmp", "object-4567"), "partial");
        File.WriteAllText(Path.Combine(root, "tmp", "unrelated"), "kept");
        using var factory = new OtaServerFactory(dataDir: data);
        factory.CreateClient(); // starts the host
        Assert.False(Directory.Exists(Path.Combine(root, "tmp", "ingest-0123")));
        Assert.False(File.Exists(Path.Combine(root, "tmp", "object-4567")));
        Assert.True(File.Exists(Path.Combine(root, "tmp", "unrelated")));
    }

    private static async Task<List<string>> MissingAsync(HttpClient client, IEnumerable<string> paths)
    {
        var names = paths.Select(p => p["objects/".Length..].Replace("/", "")).ToList();
        var response = await client.PostAsJsonAsync("/api/v1/repos/main/objects/missing", new { objects = names });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (await JsonAsync(response)).GetProperty("missing").EnumerateArray()
            .Select(n => OtaServer.OSTree.ObjectName.Parse(n.GetString()!).RelativePath).ToList();
    }

    /// <summary>Whatever an upload left in objects/ is a whole, valid object under its own name: nothing partial or unverified.</summary>
    private void AssertEveryStoredObjectVerifies()
    {
        var root = _factory.RepoRoot();
        foreach (var file in Directory.EnumerateFiles(Path.Combine(root, "objects"), "*", SearchOption.AllDirectories))
        {
            var rel = Path.GetRelativePath(root, file).Replace('\\', '/');
            Assert.True(OtaServer.OSTree.ObjectName.TryParseRelativePath(rel, out var name), $"stray file {rel}");
            using var stream = File.OpenRead(file);
            OtaServer.OSTree.ObjectVerifier.Verify(name, stream);
        }
    }

    private void AssertNoStagingLeft()
    {
        var staging = Path.Combine(_factory.RepoRoot(), "tmp");
        Assert.Empty(Directory.EnumerateDirectories(staging, "ingest-*"));
    }

    /// <summary>A ustar header for one regular file of <paramref name="size"/> bytes.</summary>
    private static byte[] TarHeader(string name, long size)
    {
        var h = new byte[512];
        void Put(int offset, string text) => System.Text.Encoding.ASCII.GetBytes(text).CopyTo(h, offset);
        Put(0, name);
        Put(100, "0000644\0");
        Put(108, "0000000\0");
        Put(116, "0000000\0");
        Put(124, Convert.ToString(size, 8).PadLeft(11, '0') + "\0");
        Put(136, "00000000000\0");
        Put(148, "        ");
        h[156] = (byte)'0';
        Put(257, "ustar\0");
        Put(263, "00");
        var sum = h.Sum(b => (int)b);
        Put(148, Convert.ToString(sum, 8).PadLeft(6, '0') + "\0 ");
        return h;
    }

    [Fact]
    public async Task Upload_OfAHugeBogusObject_IsRefusedAtItsFirstBytes_NotAfterItReachedTheDisk()
    {
        var address = _factory.StartKestrel();
        const long size = 3L << 30; // 3 GiB of zeros posing as a .filez
        var name = "objects/ab/" + new string('c', 62) + ".filez";
        var header = TarHeader(name, size);
        using var tcp = new System.Net.Sockets.TcpClient();
        await tcp.ConnectAsync(address.Host, address.Port);
        var stream = tcp.GetStream();
        var head = $"POST /api/v1/repos/main/objects HTTP/1.1\r\nHost: {address.Authority}\r\nAuthorization: Bearer {OtaServerFactory.PushToken}\r\nContent-Length: {size + 1024 + 512}\r\n\r\n";
        await stream.WriteAsync(System.Text.Encoding.ASCII.GetBytes(head));
        await stream.WriteAsync(header);
        var reader = Task.Run(async () =>
        {
            var buffer = new byte[8192];
            var n = await stream.ReadAsync(buffer);
            return System.Text.Encoding.ASCII.GetString(buffer, 0, n);
        });
        var zeros = new byte[1 << 20];
        long sent = 0;
        try
        {
            while (!reader.IsCompleted && sent < 1L << 30)
            {
                await stream.WriteAsync(zeros);
                sent += zeros.Length;
            }
        }
        catch (IOException)
        {
            // The server closed the connection after its answer.
        }
        var answer = await reader.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.StartsWith("HTTP/1.1 422", answer);
        Assert.Contains("bad .filez header", answer);
        Assert.True(sent < 256L << 20, $"the server read {sent >> 20} MiB of an object that was bad from its first bytes");
        for (var i = 0; i < 100 && Directory.EnumerateDirectories(Path.Combine(_factory.RepoRoot(), "tmp"), "ingest-*").Any(); i++)
            await Task.Delay(50);
        AssertNoStagingLeft();
    }
}
