using System.Collections.Concurrent;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using OtaServer.Deltas;
using OtaServer.Jobs;
using OtaServer.Repositories;
using OtaServer.Tests.Infrastructure;

namespace OtaServer.Tests.Workflow;

/// <summary>The real app with extra test services (fakes for the contracts other helpers implement).</summary>
public sealed class FleetFactory(Action<IServiceCollection>? services = null, IDictionary<string, string?>? settings = null, string? dataDir = null)
    : OtaServerFactory(settings, dataDir)
{
    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        if (services is not null)
            builder.ConfigureTestServices(services);
    }

    public HttpClient Admin() => CreateClient(AdminToken);
}

/// <summary>Repository content as the test says: commits known and complete unless marked otherwise.</summary>
public sealed class FakeRepositoryContent : IRepositoryContent
{
    public ConcurrentDictionary<string, IReadOnlyList<string>> Commits { get; } = new();
    public ConcurrentDictionary<string, string> Refs { get; } = new();

    public string AddCommit(long version, bool complete = true)
    {
        var commit = FleetKit.Commit(version);
        Commits[commit] = complete ? [] : [new string('a', 64) + ".file"];
        return commit;
    }

    public bool CommitExists(string repository, string commit) => Commits.ContainsKey(commit);

    public IReadOnlyList<string> FindMissingObjects(string repository, string commit) => Commits.GetValueOrDefault(commit) ?? [];

    public string? ResolveRef(string repository, string refName) => Refs.GetValueOrDefault(refName);
}

/// <summary>Deltas in memory; counts generations; <see cref="Gate"/> lets a test hold a generation open.</summary>
public sealed class FakeDeltaService : IDeltaService
{
    public ConcurrentDictionary<(string? From, string To), DeltaStats> Deltas { get; } = new();
    public ConcurrentDictionary<(string? From, string To), int> Generations { get; } = new();

    /// <summary>Awaited by every generation before it finishes (default: completes at once).</summary>
    public Func<string?, string, CancellationToken, Task> Gate { get; set; } = (_, _, _) => Task.CompletedTask;

    /// <summary>Signalled when a generation starts.</summary>
    public SemaphoreSlim Started { get; } = new(0);

    public string? FailWith { get; set; }

    public DeltaStats? Find(string repository, string? from, string to) => Deltas.GetValueOrDefault((from, to));

    public IReadOnlyList<DeltaStats> List(string repository) => [.. Deltas.Values];

    public async Task<DeltaStats> GenerateAsync(string repository, string? from, string to, IJobLog log, CancellationToken cancellationToken)
    {
        if (Find(repository, from, to) is { } existing)
            return existing;
        Generations.AddOrUpdate((from, to), 1, (_, n) => n + 1);
        Started.Release();
        log.Write($"fake: generating {from} -> {to}");
        await Gate(from, to, cancellationToken);
        if (FailWith is { } reason)
            throw new InvalidOperationException(reason);
        var stats = new DeltaStats(repository, from, to, 1, 1000, 5000, 0, 0, 100, 0.1, "fake", DateTimeOffset.UtcNow);
        Deltas[(from, to)] = stats;
        return stats;
    }
}

public static class FleetKit
{
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public static string Commit(long version) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes("commit-" + version)));

    /// <summary>A factory with a fake repository content and delta service.</summary>
    public static (FleetFactory Factory, FakeRepositoryContent Content, FakeDeltaService Deltas) Create(
        IDictionary<string, string?>? settings = null, string? dataDir = null, Action<IServiceCollection>? more = null)
    {
        var content = new FakeRepositoryContent();
        var deltas = new FakeDeltaService();
        var factory = new FleetFactory(s =>
        {
            s.AddSingleton<IRepositoryContent>(content);
            s.AddSingleton<IDeltaService>(deltas);
            more?.Invoke(s);
        }, settings, dataDir);
        return (factory, content, deltas);
    }

    public static StringContent JsonBody(object body) => new(JsonSerializer.Serialize(body, Json), Encoding.UTF8, "application/json");

    public static async Task<JsonElement> ReadJsonAsync(this HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    public static async Task<JsonElement> PostOkAsync(this HttpClient client, string url, object body)
    {
        var response = await client.PostAsync(url, JsonBody(body));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"POST {url} → {(int)response.StatusCode}: {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    public static Task<JsonElement> CreateTargetAsync(this HttpClient admin, long version, string commit, string[]? tags = null, string[]? hardwareIds = null) =>
        admin.PostOkAsync("/api/v1/targets", new { version, @ref = "main", commit, tags = tags ?? [], hardwareIds = hardwareIds ?? [] });

    /// <summary>Creates a device and returns its token.</summary>
    public static async Task<string> CreateDeviceAsync(this HttpClient admin, string name, string? hardwareId = "hw1", string? tag = null)
    {
        var res = await admin.PostOkAsync("/api/v1/devices", new { name, hardwareId, tag });
        return res.GetProperty("token").GetString()!;
    }

    public static async Task<JsonElement> CheckInAsync(this OtaServerFactory factory, string deviceToken, string hardwareId, string tag, string? currentCommit)
    {
        using var client = factory.CreateClient(deviceToken);
        return await client.PostOkAsync("/api/v1/devices/checkin", new { hardwareId, tag, currentCommit });
    }

    /// <summary>Waits for the job's final status by following its log stream (Server-Sent Events), then returns the job.</summary>
    public static async Task<JsonElement> WaitForJobAsync(this HttpClient admin, string id, TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(60));
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/api/v1/jobs/{id}/log");
        request.Headers.Accept.ParseAdd("text/event-stream");
        using var response = await admin.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cts.Token);
        response.EnsureSuccessStatusCode();
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cts.Token));
        while (await reader.ReadLineAsync(cts.Token) is { } line)
        {
            if (line == "event: status")
                break;
        }

        return (await admin.GetFromJsonAsync<JsonElement>($"/api/v1/jobs/{id}", cts.Token)).GetProperty("job");
    }

    public static async Task<string> JobStatusAsync(this HttpClient admin, string id) =>
        (await admin.GetFromJsonAsync<JsonElement>($"/api/v1/jobs/{id}")).GetProperty("job").GetProperty("status").GetString()!;

    public static async Task<string[]> JobLogAsync(this HttpClient admin, string id) =>
        [.. (await admin.GetFromJsonAsync<JsonElement>($"/api/v1/jobs/{id}")).GetProperty("log").EnumerateArray().Select(e => e.GetString()!)];

    /// <summary>
    /// Commits a small OS tree for <paramref name="version"/> on branch <c>main</c> of <paramref name="repo"/> with the
    /// ostree CLI; versions share most bytes so a delta pays off. Returns the commit checksum.
    /// </summary>
    public static string OstreeCommitVersion(string repo, string workDir, long version)
    {
        var tree = Path.Combine(workDir, "tree-" + version);
        Directory.CreateDirectory(Path.Combine(tree, "usr", "lib"));
        Directory.CreateDirectory(Path.Combine(tree, "etc"));
        File.WriteAllText(Path.Combine(tree, "etc", "os-release"), $"NAME=test\nVERSION_ID={version}\n");
        var big = new byte[256 * 1024];
        new Random(7).NextBytes(big);
        big[version % big.Length] ^= 0xff;
        File.WriteAllBytes(Path.Combine(tree, "usr", "lib", "libbig.so"), big);
        File.WriteAllText(Path.Combine(tree, "usr", "lib", $"only-in-{version}"), new string('x', (int)version * 100));
        return OstreeCli.Run($"--repo={repo}", "commit", "-b", "main", $"--tree=dir={tree}", $"--subject=v{version}").Trim();
    }

    /// <summary>Runs otactl in-process against <paramref name="server"/> with the admin token.</summary>
    public static async Task<(int Exit, string Out, string Err)> OtactlAsync(Uri server, params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var exit = await OtaCtl.Cli.RunAsync([.. args, "--server", server.ToString(), "--token", OtaServerFactory.AdminToken], stdout, stderr, CancellationToken.None);
        return (exit, stdout.ToString(), stderr.ToString());
    }
}
