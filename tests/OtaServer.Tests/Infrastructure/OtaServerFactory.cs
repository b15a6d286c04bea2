using System.Collections.Concurrent;
using System.Net.Http.Headers;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace OtaServer.Tests.Infrastructure;

/// <summary>
/// The real application with its own temp data folder and three API tokens (push, admin, read).
/// Call <see cref="StartKestrel"/> for a real 127.0.0.1 port that the ostree CLI can reach.
/// </summary>
public class OtaServerFactory : WebApplicationFactory<Program>
{
    public const string PushToken = "test-push-token";
    public const string AdminToken = "test-admin-token";
    public const string ReadToken = "test-read-token";

    private readonly TempDirectory _data = new("ota-data");
    private readonly Dictionary<string, string?> _settings = new();

    public OtaServerFactory(IDictionary<string, string?>? settings = null, string? dataDir = null)
    {
        DataDir = dataDir ?? _data.Path;
        if (settings is not null)
        {
            foreach (var kv in settings)
                _settings[kv.Key] = kv.Value;
        }
    }

    public string DataDir { get; }

    /// <summary>When set before the server starts: the server's clock.</summary>
    public TimeProvider? Time { get; init; }

    public string RepoRoot(string repo = "main") => Path.Combine(DataDir, "repos", repo);

    /// <summary>Base address of the Kestrel listener (after <see cref="StartKestrel"/>).</summary>
    public Uri? KestrelAddress { get; private set; }

    /// <summary>Every request the server answered: (method, path, status), in completion order.</summary>
    public ConcurrentQueue<(string Method, string Path, int Status)> Requests { get; } = new();

    /// <summary>Paths of the answered GETs under <c>/repos/{repo}/</c>, relative to the repository.</summary>
    public List<(string Path, int Status)> RepositoryGets(string repo = "main") =>
        Requests.Where(r => r.Method == "GET" && r.Path.StartsWith($"/repos/{repo}/", StringComparison.Ordinal))
            .Select(r => (r.Path[($"/repos/{repo}/".Length)..], r.Status)).ToList();

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Testing");
        builder.ConfigureServices(s => s.AddSingleton<IStartupFilter>(new RecordRequests(Requests)));
        if (Time is { } time)
            builder.ConfigureTestServices(s => s.AddSingleton(time));
        builder.ConfigureAppConfiguration((_, config) =>
        {
            var s = new Dictionary<string, string?>
            {
                ["OtaServer:DataDir"] = DataDir,
                ["OtaServer:Tokens:0:Name"] = "push",
                ["OtaServer:Tokens:0:Token"] = PushToken,
                ["OtaServer:Tokens:0:Scopes:0"] = "push",
                ["OtaServer:Tokens:1:Name"] = "admin",
                ["OtaServer:Tokens:1:Token"] = AdminToken,
                ["OtaServer:Tokens:1:Scopes:0"] = "admin",
                ["OtaServer:Tokens:1:Scopes:1"] = "push",
                ["OtaServer:Tokens:1:Scopes:2"] = "read",
                ["OtaServer:Tokens:2:Name"] = "read",
                ["OtaServer:Tokens:2:Token"] = ReadToken,
                ["OtaServer:Tokens:2:Scopes:0"] = "read",
                ["Serilog:MinimumLevel:Default"] = "Warning",
            };
            foreach (var kv in _settings)
                s[kv.Key] = kv.Value;
            config.AddInMemoryCollection(s);
        });
    }

    /// <summary>Starts a real Kestrel server on a free 127.0.0.1 port and returns its base address.</summary>
    public Uri StartKestrel()
    {
        if (KestrelAddress is not null)
            return KestrelAddress;
        UseKestrel(0);
        StartServer();
        var addresses = Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses;
        var address = addresses.First().Replace("[::]", "127.0.0.1").Replace("localhost", "127.0.0.1");
        KestrelAddress = new Uri(address.TrimEnd('/') + "/");
        return KestrelAddress;
    }

    public HttpClient CreateClient(string? token)
    {
        var client = CreateClient();
        if (token is not null)
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return client;
    }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (disposing)
            _data.Dispose();
    }

    private sealed class RecordRequests(ConcurrentQueue<(string, string, int)> log) : IStartupFilter
    {
        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.Use(async (context, nextMiddleware) =>
            {
                await nextMiddleware(context);
                log.Enqueue((context.Request.Method, context.Request.Path.Value ?? "", context.Response.StatusCode));
            });
            next(app);
        };
    }
}
