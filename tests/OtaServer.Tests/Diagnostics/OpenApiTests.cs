using System.Text.Json;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using OtaServer.Tests.Infrastructure;

namespace OtaServer.Tests.Diagnostics;

public sealed class OpenApiTests
{
    [Fact]
    public async Task SwaggerJson_DocumentsEveryApiRoute()
    {
        using var factory = new OtaServerFactory();
        var client = factory.CreateClient();
        var doc = JsonDocument.Parse(await client.GetStringAsync("/swagger/v1/swagger.json"));
        var documented = doc.RootElement.GetProperty("paths").EnumerateObject()
            .SelectMany(p => p.Value.EnumerateObject().Select(m => $"{m.Name.ToUpperInvariant()} {Normalize(p.Name)}"))
            .ToHashSet(StringComparer.Ordinal);

        var routes = factory.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .Where(e => e.RoutePattern.RawText?.StartsWith("/api/", StringComparison.Ordinal) == true)
            .SelectMany(e => (e.Metadata.GetMetadata<HttpMethodMetadata>()?.HttpMethods ?? ["GET"])
                .Select(m => $"{m} {Normalize(e.RoutePattern.RawText!)}"))
            .ToList();
        Assert.True(routes.Count >= 30, $"only {routes.Count} API routes found");
        var missing = routes.Where(r => !documented.Contains(r)).ToList();
        Assert.True(missing.Count == 0, "Not in swagger.json: " + string.Join(", ", missing));
        Assert.Equal(System.Net.HttpStatusCode.OK, (await client.GetAsync("/swagger/index.html")).StatusCode);
    }

    /// <summary>Route templates and OpenAPI paths spell parameters differently ({**ref}, {version:long}).</summary>
    private static string Normalize(string template) =>
        System.Text.RegularExpressions.Regex.Replace(template.TrimEnd('/'), @"\{\**([A-Za-z]+)(:[^}]*)?\}", "{$1}");
}
