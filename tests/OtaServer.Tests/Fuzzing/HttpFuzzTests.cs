using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using OtaServer.Tests.Infrastructure;
using Xunit.Abstractions;

namespace OtaServer.Tests.Fuzzing;

/// <summary>
/// Seeded fuzzing of what the server reads from requests: JSON bodies of every route with a body in OpenAPI,
/// the Range / If-Range / If-None-Match / If-Modified-Since headers of repository files, and mutated upload
/// streams (tar, zstd, gzip). No answer is a 5xx, and after the uploads every stored object still verifies
/// and the repository passes <c>ostree fsck</c>. OTA_FUZZ_ITERATIONS raises the counts.
/// </summary>
public sealed class HttpFuzzTests(ITestOutputHelper output) : IDisposable
{
    private readonly OtaServerFactory _factory = new();
    private readonly TempDirectory _tmp = new();

    public void Dispose()
    {
        _factory.Dispose();
        _tmp.Dispose();
    }

    private static int Iterations(int @default) =>
        int.TryParse(Environment.GetEnvironmentVariable("OTA_FUZZ_ITERATIONS"), out var n) && n > 0 ? Math.Max(1, n / 10) : @default;

    private static readonly string[] Strings =
        ["", "main", "promoted", "../../etc/passwd", "NaN", "Infinity", "-1", "1e309", new string('a', 70_000), "\u0000", "é", "a/b",
         new string('0', 64), new string('f', 64) + "-" + new string('0', 64), "2026-12-07T00:00:00Z", "$(reboot)", "beta,qa", "%00"];

    private static JsonNode? RandomValue(Random rng, int depth = 0) => rng.Next(depth > 2 ? 6 : 9) switch
    {
        0 => null,
        1 => JsonValue.Create(rng.Next(2) == 0),
        2 => JsonValue.Create(rng.Next(4) switch { 0 => long.MaxValue, 1 => long.MinValue, 2 => 0, _ => rng.Next(-5, 100) }),
        3 => JsonValue.Create(rng.Next(2) == 0 ? 1e308 : -0.5),
        4 or 5 => JsonValue.Create(Strings[rng.Next(Strings.Length)]),
        6 => new JsonArray(Enumerable.Range(0, rng.Next(4)).Select(_ => RandomValue(rng, depth + 1)).ToArray()),
        7 => new JsonArray(Enumerable.Range(0, rng.Next(3)).Select(_ => (JsonNode?)JsonValue.Create(Strings[rng.Next(Strings.Length)])).ToArray()),
        _ => new JsonObject(Enumerable.Range(0, rng.Next(3)).Select(i => KeyValuePair.Create("k" + i, RandomValue(rng, depth + 1)))),
    };

    private static string FillPath(string path, Random rng) =>
        System.Text.RegularExpressions.Regex.Replace(path, @"\{([A-Za-z]+)\}", m => m.Groups[1].Value switch
        {
            "repo" => rng.Next(4) == 0 ? "nope" : "main",
            "version" => rng.Next(3) == 0 ? "abc" : rng.Next(1, 50).ToString(),
            "id" => rng.Next(2) == 0 ? Guid.NewGuid().ToString() : "not-a-job",
            _ => rng.Next(3) == 0 ? "x%2F..%2Fy" : "dev" + rng.Next(5),
        });

    [Fact]
    public async Task JsonBodies_OfEveryRoute_NeverAnswer5xx()
    {
        var client = _factory.CreateClient(OtaServerFactory.AdminToken);
        var doc = JsonDocument.Parse(await client.GetStringAsync("/swagger/v1/swagger.json")).RootElement;
        var schemas = doc.GetProperty("components").GetProperty("schemas");
        var routes = new List<(string Method, string Path, string[] Properties)>();
        foreach (var path in doc.GetProperty("paths").EnumerateObject())
        {
            foreach (var op in path.Value.EnumerateObject())
            {
                if (op.Name is not ("post" or "put" or "patch"))
                    continue;
                var props = Array.Empty<string>();
                if (op.Value.TryGetProperty("requestBody", out var body) &&
                    body.GetProperty("content").EnumerateObject().First().Value.TryGetProperty("schema", out var schema) &&
                    schema.TryGetProperty("$ref", out var reference) &&
                    schemas.TryGetProperty(reference.GetString()!.Split('/')[^1], out var s) && s.TryGetProperty("properties", out var p))
                {
                    props = p.EnumerateObject().Select(x => x.Name).ToArray();
                }

                routes.Add((op.Name.ToUpperInvariant(), path.Name, props));
            }
        }

        Assert.True(routes.Count >= 15, $"only {routes.Count} routes with a body");

        var rng = new Random(4242);
        var perRoute = Iterations(40);
        var statuses = new Dictionary<int, int>();
        foreach (var (method, path, props) in routes)
        {
            for (var i = 0; i < perRoute; i++)
            {
                string body;
                if (rng.Next(6) == 0)
                {
                    body = rng.Next(3) switch { 0 => "{", 1 => "[1,2", _ => "\u0001garbage" };
                }
                else
                {
                    var o = new JsonObject();
                    foreach (var prop in props.Where(_ => rng.Next(3) != 0))
                        o[prop] = RandomValue(rng);
                    body = rng.Next(8) == 0 ? RandomValue(rng)?.ToJsonString() ?? "null" : o.ToJsonString();
                }
                using var request = new HttpRequestMessage(new HttpMethod(method), FillPath(path, rng).TrimStart('/'))
                {
                    Content = new StringContent(body, Encoding.UTF8, rng.Next(10) == 0 ? "text/plain" : "application/json"),
                };
                using var response = await client.SendAsync(request);
                var code = (int)response.StatusCode;
                statuses[code] = statuses.GetValueOrDefault(code) + 1;
                Assert.True(code < 500, $"{method} {request.RequestUri} with {body[..Math.Min(200, body.Length)]} → {code}: {await response.Content.ReadAsStringAsync()}");
            }
        }
        output.WriteLine($"JSON bodies: {routes.Count} routes × {perRoute} = {routes.Count * perRoute} requests; statuses " +
            string.Join(", ", statuses.OrderBy(k => k.Key).Select(k => $"{k.Key}×{k.Value}")));
    }

    [Fact]
    public async Task RangeAndConditionalHeaders_OfRepositoryFiles_NeverAnswer5xx()
    {
        var repo = _tmp.Combine("local");
        var tree = _tmp.Combine("tree");
        TestTrees.Write(tree, 1);
        LocalRepos.Commit(repo, tree);
        var push = _factory.CreateClient(OtaServerFactory.PushToken);
        var objects = LocalRepos.ObjectPaths(repo);
        Assert.Equal(HttpStatusCode.OK, (await push.PostAsync("/api/v1/repos/main/objects", new ByteArrayContent(LocalRepos.Tar(repo, objects)))).StatusCode);
        var files = objects.Append("config").ToArray();

        var rng = new Random(77);
        var anonymous = _factory.CreateClient();
        string[] units = ["bytes", "Bytes", "items", "", "bytes "];
        string Pick(int max)
        {
            var s = Strings[rng.Next(Strings.Length)];
            return s[..Math.Min(max, s.Length)];
        }
        string RandomRange()
        {
            var parts = Enumerable.Range(0, 1 + rng.Next(rng.Next(10) == 0 ? 200 : 3)).Select(_ => rng.Next(7) switch
            {
                0 => $"{rng.Next(100)}-{rng.Next(100)}",
                1 => $"-{rng.Next(1000)}",
                2 => $"{rng.Next(1000)}-",
                3 => $"{long.MaxValue}-{rng.Next(10)}",
                4 => "99999999999999999999999-",
                5 => $"{rng.Next(50)}-{rng.Next(50)}, ,",
                _ => Pick(40),
            });
            return units[rng.Next(units.Length)] + "=" + string.Join(rng.Next(4) == 0 ? ";" : ",", parts);
        }
        var iterations = Iterations(600);
        var statuses = new Dictionary<int, int>();
        for (var i = 0; i < iterations; i++)
        {
            using var request = new HttpRequestMessage(rng.Next(4) == 0 ? HttpMethod.Head : HttpMethod.Get, "repos/main/" + files[rng.Next(files.Length)]);
            if (rng.Next(5) != 0)
                request.Headers.TryAddWithoutValidation("Range", RandomRange());
            if (rng.Next(3) == 0)
                request.Headers.TryAddWithoutValidation("If-Range", rng.Next(2) == 0 ? "\"" + new string('a', rng.Next(70)) + "\"" : "Mon, 07 Dec 2026 00:00:00 GMT");
            if (rng.Next(3) == 0)
                request.Headers.TryAddWithoutValidation("If-None-Match", rng.Next(3) switch { 0 => "*", 1 => "W/\"x\", \"y\"", _ => "\"" + Pick(80) });
            if (rng.Next(4) == 0)
                request.Headers.TryAddWithoutValidation("If-Modified-Since", rng.Next(2) == 0 ? "yesterday" : "Thu, 01 Jan 1970 00:00:00 GMT");
            using var response = await anonymous.SendAsync(request);
            var code = (int)response.StatusCode;
            statuses[code] = statuses.GetValueOrDefault(code) + 1;
            Assert.True(code < 500, $"{request.Method} {request.RequestUri} Range: {string.Join(" ", request.Headers.Select(h => h.Key + "=" + string.Join(",", h.Value)))} → {code}");
        }
        output.WriteLine($"Repository-file headers: {iterations} requests; statuses " + string.Join(", ", statuses.OrderBy(k => k.Key).Select(k => $"{k.Key}×{k.Value}")));
    }

    [Fact]
    public async Task MutatedUploadStreams_NeverAnswer5xx_AndStoreOnlyValidObjects()
    {
        var repo = _tmp.Combine("local");
        var tree = _tmp.Combine("tree");
        TestTrees.Write(tree, 1);
        LocalRepos.Commit(repo, tree);
        var tar = LocalRepos.Tar(repo, LocalRepos.ObjectPaths(repo));
        var samples = new (byte[] Bytes, string? Encoding)[] { (tar, null), (Compress.Zstd(tar), "zstd"), (Compress.Gzip(tar), "gzip"), (Compress.Zstd(tar), null) };
        var rng = new Random(99);
        var push = _factory.CreateClient(OtaServerFactory.PushToken);
        var iterations = Iterations(150);
        var statuses = new Dictionary<int, int>();
        for (var i = 0; i < iterations; i++)
        {
            var (original, encoding) = samples[rng.Next(samples.Length)];
            var bytes = (byte[])original.Clone();
            for (var k = 1 + rng.Next(6); k > 0; k--)
            {
                switch (rng.Next(3))
                {
                    case 0: bytes[rng.Next(bytes.Length)] ^= (byte)(1 << rng.Next(8)); break;
                    case 1: bytes[rng.Next(bytes.Length)] = (byte)rng.Next(256); break;
                    default: bytes = bytes[..rng.Next(bytes.Length)]; break;
                }
                if (bytes.Length == 0)
                    bytes = [0];
            }
            var content = new ByteArrayContent(bytes);
            if (encoding is not null)
                content.Headers.ContentEncoding.Add(encoding);
            using var response = await push.PostAsync("/api/v1/repos/main/objects", content);
            var code = (int)response.StatusCode;
            statuses[code] = statuses.GetValueOrDefault(code) + 1;
            Assert.True(code < 500, $"upload {i} → {code}: {await response.Content.ReadAsStringAsync()}");
            // Start from scratch now and then, so later mutations meet an empty repository again.
            if (rng.Next(10) == 0)
            {
                foreach (var dir in Directory.EnumerateDirectories(Path.Combine(_factory.RepoRoot(), "objects")))
                    Directory.Delete(dir, recursive: true);
            }
        }
        output.WriteLine($"Upload streams: {iterations} mutated uploads; statuses " + string.Join(", ", statuses.OrderBy(k => k.Key).Select(k => $"{k.Key}×{k.Value}")));
        foreach (var file in Directory.EnumerateFiles(Path.Combine(_factory.RepoRoot(), "objects"), "*", SearchOption.AllDirectories))
        {
            var name = OtaServer.OSTree.ObjectName.Parse(Path.GetFileName(Path.GetDirectoryName(file)!) + Path.GetFileName(file));
            using var stream = File.OpenRead(file);
            OtaServer.OSTree.ObjectVerifier.Verify(name, stream);
        }
        OstreeCli.Run("fsck", "--repo=" + _factory.RepoRoot());
    }
}
