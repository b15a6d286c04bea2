using System.Net;
using OtaServer.Tests.Infrastructure;

namespace OtaServer.Tests.Diagnostics;

public sealed class HealthTests
{
    [Fact]
    public async Task Healthz_ReturnsHealthy()
    {
        using var factory = new OtaServerFactory();
        var client = factory.CreateClient();
        var response = await client.GetAsync("/healthz");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("Healthy", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task FirstStart_CreatesMainArchiveRepository()
    {
        using var factory = new OtaServerFactory();
        _ = factory.CreateClient();
        var config = await File.ReadAllTextAsync(Path.Combine(factory.RepoRoot(), "config"));
        Assert.Contains("mode=archive-z2", config);
    }

    [Fact]
    public async Task Kestrel_ListensOnLoopback()
    {
        using var factory = new OtaServerFactory();
        var address = factory.StartKestrel();
        using var http = new HttpClient { BaseAddress = address };
        var response = await http.GetAsync("healthz");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("127.0.0.1", address.Host);
    }

    [Fact]
    public async Task FirstStart_WithoutTokens_WritesAdminTokenFileWithMode0600()
    {
        using var data = new TempDirectory();
        using var factory = new OtaServerFactory(new Dictionary<string, string?>
        {
            ["OtaServer:Tokens:0:Token"] = "",
            ["OtaServer:Tokens:1:Token"] = "",
            ["OtaServer:Tokens:2:Token"] = "",
        }, data.Path);
        _ = factory.CreateClient();
        var path = Path.Combine(data.Path, "admin-token");
        Assert.True(File.Exists(path));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        var token = (await File.ReadAllTextAsync(path)).Trim();
        Assert.Equal(64, token.Length);
        var client = factory.CreateClient(token);
        // Authenticated but the route does not exist yet: 404, not 401.
        var swagger = await client.GetAsync("/swagger/v1/swagger.json");
        Assert.Equal(HttpStatusCode.OK, swagger.StatusCode);
    }
}
