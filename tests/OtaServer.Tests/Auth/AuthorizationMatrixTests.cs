using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using OtaServer.Tests.Infrastructure;
using Xunit.Abstractions;

namespace OtaServer.Tests.Auth;

/// <summary>
/// Every route in OpenAPI, called with no token, a wrong token, a token of each single scope and a device
/// token. Each route must declare who may call it (a scope policy, or anonymous on purpose); the answer must
/// be 401 without a valid token, 403 with a valid token that lacks the scope, and neither with the right one.
/// </summary>
public sealed class AuthorizationMatrixTests(ITestOutputHelper output)
{
    private static readonly Dictionary<string, string[]> SingleScopeTokens = new()
    {
        ["matrix-push-only"] = ["push"],
        ["matrix-admin-only"] = ["admin"],
        ["matrix-read-only"] = ["read"],
    };

    [Fact]
    public async Task EveryRoute_AnswersByTheScopeItDeclares()
    {
        var settings = new Dictionary<string, string?>();
        var index = 10;
        foreach (var (token, scopes) in SingleScopeTokens)
        {
            settings[$"OtaServer:Tokens:{index}:Name"] = token;
            settings[$"OtaServer:Tokens:{index}:Token"] = token;
            for (var s = 0; s < scopes.Length; s++)
                settings[$"OtaServer:Tokens:{index}:Scopes:{s}"] = scopes[s];
            index++;
        }
        using var factory = new OtaServerFactory(settings);
        var admin = factory.CreateClient(OtaServerFactory.AdminToken);
        var created = await admin.PostAsync("/api/v1/devices", new StringContent("{\"name\":\"matrix-device\"}", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var deviceToken = JsonDocument.Parse(await created.Content.ReadAsStringAsync()).RootElement.GetProperty("token").GetString()!;

        var doc = JsonDocument.Parse(await admin.GetStringAsync("/swagger/v1/swagger.json")).RootElement;
        var documented = doc.GetProperty("paths").EnumerateObject()
            .SelectMany(p => p.Value.EnumerateObject().Select(m => (Method: m.Name.ToUpperInvariant(), Path: p.Name))).ToList();
        var endpoints = factory.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .Where(e => e.RoutePattern.RawText?.StartsWith("/api/", StringComparison.Ordinal) == true).ToList();

        var callers = new List<(string Name, string? Token, string[] Scopes)>
        {
            ("no token", null, []),
            ("wrong token", "not-a-token-" + new string('x', 40), []),
        };
        callers.AddRange(SingleScopeTokens.Select(t => (t.Key, (string?)t.Key, t.Value)));
        callers.Add(("device token", deviceToken, ["device"]));

        var calls = 0;
        var failures = new List<string>();
        foreach (var (method, path) in documented)
        {
            var endpoint = endpoints.SingleOrDefault(e => Normalize(e.RoutePattern.RawText!) == path &&
                (e.Metadata.GetMetadata<Microsoft.AspNetCore.Routing.HttpMethodMetadata>()?.HttpMethods.Contains(method) ?? false));
            Assert.True(endpoint is not null, $"{method} {path} is in OpenAPI but has no endpoint");
            var anonymous = endpoint!.Metadata.GetMetadata<IAllowAnonymous>() is not null;
            var policies = endpoint.Metadata.GetOrderedMetadata<IAuthorizeData>().Select(a => a.Policy).OfType<string>().ToHashSet();
            if (!anonymous && policies.Count == 0)
            {
                failures.Add($"{method} {path} declares neither a scope nor anonymous access");
                continue;
            }
            foreach (var (name, token, scopes) in callers)
            {
                var client = factory.CreateClient(token);
                using var request = new HttpRequestMessage(new HttpMethod(method), Fill(path));
                if (method is "POST" or "PUT" or "PATCH")
                    request.Content = new StringContent("{}", Encoding.UTF8, "application/json");
                using var response = await client.SendAsync(request);
                calls++;
                var code = (int)response.StatusCode;
                string? problem = null;
                if (code >= 500)
                {
                    problem = $"answered {code}";
                }
                else if (anonymous)
                {
                    // Anonymous routes decide for themselves (registration refuses a missing registration token).
                }
                else if (token is null || name == "wrong token")
                {
                    if (code != 401)
                        problem = $"answered {code}, expected 401";
                }
                else if (!policies.IsSubsetOf(scopes))
                {
                    if (code != 403)
                        problem = $"answered {code}, expected 403 (needs {string.Join("+", policies)})";
                }
                else if (code is 401 or 403)
                {
                    problem = $"answered {code} to a token with scope {string.Join("+", scopes)}";
                }

                if (problem is not null)
                    failures.Add($"{method} {path} with {name}: {problem}");
            }
        }
        output.WriteLine($"{documented.Count} routes × {callers.Count} callers = {calls} calls");
        Assert.True(documented.Count >= 30, $"only {documented.Count} routes in OpenAPI");
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    private static string Fill(string path) =>
        System.Text.RegularExpressions.Regex.Replace(path, @"\{([A-Za-z]+)\}", m => m.Groups[1].Value switch
        {
            "repo" => "main",
            "version" or "to" => "1",
            "id" => Guid.NewGuid().ToString(),
            "ref" => "main",
            _ => "matrix-other", // never the calling device: the admin caller would delete it
        }).TrimStart('/');

    /// <summary>Route templates and OpenAPI paths spell parameters differently ({**ref}, {version:long}).</summary>
    private static string Normalize(string template) =>
        System.Text.RegularExpressions.Regex.Replace(template.TrimEnd('/'), @"\{\**([A-Za-z]+)(:[^}]*)?\}", "{$1}");
}
