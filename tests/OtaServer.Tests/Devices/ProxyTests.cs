using System.Net.Http.Headers;
using OtaServer.Tests.Workflow;

namespace OtaServer.Tests.Devices;

/// <summary>Behind nginx: the check-in's repositoryUrl is the address devices use, not the internal listener.</summary>
public sealed class ProxyTests
{
    private static async Task<string> RepositoryUrlAsync(IDictionary<string, string?>? settings, params (string Name, string Value)[] headers)
    {
        var (f, content, _) = FleetKit.Create(settings);
        using var _f = f;
        var server = f.StartKestrel();
        await f.Admin().CreateTargetAsync(1, content.AddCommit(1), tags: ["t"]);
        var token = await f.Admin().CreateDeviceAsync("d");
        using var client = new HttpClient { BaseAddress = server };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        foreach (var (name, value) in headers)
            client.DefaultRequestHeaders.Add(name, value);
        var res = await client.PostOkAsync("/api/v1/devices/checkin", new { hardwareId = "hw1", tag = "t", currentCommit = (string?)null });
        return res.GetProperty("target").GetProperty("repositoryUrl").GetString()!;
    }

    [Fact]
    public async Task Checkin_ThroughALoopbackProxy_UsesTheForwardedSchemeAndHost()
    {
        var url = await RepositoryUrlAsync(null, ("X-Forwarded-Proto", "https"), ("X-Forwarded-Host", "updates.example.com"), ("X-Forwarded-For", "203.0.113.7"));
        Assert.Equal("https://updates.example.com/repos/main", url);
    }

    [Fact]
    public async Task Checkin_ForwardedHeadersFromAnUntrustedAddress_AreIgnored()
    {
        var url = await RepositoryUrlAsync(new Dictionary<string, string?> { ["OtaServer:Proxy:KnownProxies:0"] = "10.9.9.9" },
            ("X-Forwarded-Proto", "https"), ("X-Forwarded-Host", "evil.example.com"));
        Assert.StartsWith("http://127.0.0.1:", url);
    }

    [Fact]
    public async Task Checkin_WithPublicUrl_UsesIt()
    {
        var url = await RepositoryUrlAsync(new Dictionary<string, string?> { ["OtaServer:PublicUrl"] = "https://cdn.example.com/ota/" },
            ("X-Forwarded-Host", "other.example.com"));
        Assert.Equal("https://cdn.example.com/ota/repos/main", url);
    }
}
