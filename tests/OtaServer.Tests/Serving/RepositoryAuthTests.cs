using System.Net;
using OtaServer.Tests.Infrastructure;

namespace OtaServer.Tests.Serving;

public sealed class RepositoryAuthTests
{
    [Fact]
    public async Task Get_ByDefault_IsAnonymous()
    {
        using var factory = new OtaServerFactory();
        using var response = await factory.CreateClient(token: null).GetAsync("/repos/main/config");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Theory]
    [InlineData(null, HttpStatusCode.Unauthorized)]
    [InlineData("wrong-token", HttpStatusCode.Unauthorized)]
    [InlineData(OtaServerFactory.PushToken, HttpStatusCode.Forbidden)]
    [InlineData(OtaServerFactory.ReadToken, HttpStatusCode.OK)]
    [InlineData(OtaServerFactory.AdminToken, HttpStatusCode.OK)]
    public async Task Get_WhenTokenRequired_NeedsReadScope(string? token, HttpStatusCode expected)
    {
        using var factory = new OtaServerFactory(new Dictionary<string, string?> { ["OtaServer:RequireTokenForRepositories"] = "true" });
        using var response = await factory.CreateClient(token).GetAsync("/repos/main/config");
        Assert.Equal(expected, response.StatusCode);
    }
}
