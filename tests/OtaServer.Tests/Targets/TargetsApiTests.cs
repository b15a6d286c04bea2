using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using OtaServer.Tests.Infrastructure;
using OtaServer.Tests.Workflow;

namespace OtaServer.Tests.Targets;

public sealed class TargetsApiTests
{
    private static async Task AssertProblemAsync(HttpResponseMessage response, HttpStatusCode status, string? detailContains = null)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(status == response.StatusCode, $"expected {(int)status}, got {(int)response.StatusCode}: {body}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonDocument.Parse(body).RootElement;
        Assert.Equal((int)status, problem.GetProperty("status").GetInt32());
        if (detailContains is not null)
            Assert.Contains(detailContains, problem.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task Create_CompleteCommit_Returns201AndIsListed()
    {
        var (f, content, _) = FleetKit.Create();
        using var _f = f;
        var commit = content.AddCommit(22);
        using var push = f.CreateClient(OtaServerFactory.PushToken);
        var response = await push.PostAsync("/api/v1/targets", FleetKit.JsonBody(new { version = 22, @ref = "os/main", commit, tags = new[] { "promoted" }, hardwareIds = new[] { "rpi4" } }));
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.Equal("/api/v1/targets/22", response.Headers.Location?.OriginalString);
        var list = await f.Admin().GetFromJsonAsync<JsonElement>("/api/v1/targets");
        var t = Assert.Single(list.EnumerateArray());
        Assert.Equal(22, t.GetProperty("version").GetInt64());
        Assert.Equal(commit, t.GetProperty("commit").GetString());
        Assert.Equal("main", t.GetProperty("repository").GetString());
        Assert.Equal(["promoted"], t.GetProperty("tags").EnumerateArray().Select(e => e.GetString()));
    }

    [Fact]
    public async Task Create_ByRef_ResolvesTheCommit()
    {
        var (f, content, _) = FleetKit.Create();
        using var _f = f;
        content.Refs["os/main"] = content.AddCommit(5);
        var t = await f.Admin().PostOkAsync("/api/v1/targets", new { version = 5, @ref = "os/main" });
        Assert.Equal(FleetKit.Commit(5), t.GetProperty("commit").GetString());
    }

    [Fact]
    public async Task Create_IncompleteCommit_Returns409()
    {
        var (f, content, _) = FleetKit.Create();
        using var _f = f;
        var commit = content.AddCommit(22, complete: false);
        var response = await f.Admin().PostAsync("/api/v1/targets", FleetKit.JsonBody(new { version = 22, @ref = "main", commit }));
        await AssertProblemAsync(response, HttpStatusCode.Conflict, "incomplete");
    }

    [Fact]
    public async Task Create_UnknownCommit_Returns404()
    {
        var (f, _, _) = FleetKit.Create();
        using var _f = f;
        var response = await f.Admin().PostAsync("/api/v1/targets", FleetKit.JsonBody(new { version = 22, @ref = "main", commit = FleetKit.Commit(1) }));
        await AssertProblemAsync(response, HttpStatusCode.NotFound, "Push it first");
    }

    [Fact]
    public async Task Create_DuplicateVersionForSameHardware_Returns409_ButOtherHardwareIsFine()
    {
        var (f, content, _) = FleetKit.Create();
        using var _f = f;
        var admin = f.Admin();
        await admin.CreateTargetAsync(22, content.AddCommit(22), hardwareIds: ["rpi4"]);
        var dup = await admin.PostAsync("/api/v1/targets", FleetKit.JsonBody(new { version = 22, @ref = "main", commit = content.AddCommit(23), hardwareIds = new[] { "rpi4" } }));
        await AssertProblemAsync(dup, HttpStatusCode.Conflict, "already exists");
        await admin.CreateTargetAsync(22, content.AddCommit(24), hardwareIds: ["x86"]);
        // Version 22 now names two targets: the bare version is ambiguous, the hardware id picks one.
        await AssertProblemAsync(await admin.GetAsync("/api/v1/targets/22"), HttpStatusCode.Conflict, "hardwareId");
        var one = await admin.GetFromJsonAsync<JsonElement>("/api/v1/targets/22?hardwareId=x86");
        Assert.Equal(FleetKit.Commit(24), one.GetProperty("commit").GetString());
    }

    [Theory]
    [InlineData("{\"version\": 1, \"ref\": \"main\", \"commit\": ", "not valid JSON")]
    [InlineData("{\"version\": \"x\"}", "not valid JSON")]
    [InlineData("{\"ref\": \"main\"}", "'version' is required")]
    [InlineData("{\"version\": 1, \"ref\": \"../x\"}", "'ref'")]
    [InlineData("{\"version\": 1, \"ref\": \"main\", \"tags\": [\"bad tag!\"]}", "Invalid tag 'bad tag!'")]
    [InlineData("{\"version\": 1, \"ref\": \"main\", \"commit\": \"XYZ\"}", "64 lowercase hex")]
    public async Task Create_BadInput_Returns400Problem(string json, string detail)
    {
        var (f, _, _) = FleetKit.Create();
        using var _f = f;
        var response = await f.Admin().PostAsync("/api/v1/targets", new StringContent(json, Encoding.UTF8, "application/json"));
        await AssertProblemAsync(response, HttpStatusCode.BadRequest, detail);
    }

    [Fact]
    public async Task Scopes_PushCreatesTargets_OnlyAdminListsThem_DeviceTokensAreForbidden_NoTokenIsUnauthorized()
    {
        var (f, content, _) = FleetKit.Create();
        using var _f = f;
        using var push = f.CreateClient(OtaServerFactory.PushToken);
        await push.PostOkAsync("/api/v1/targets", new { version = 1, @ref = "main", commit = content.AddCommit(1) });
        await AssertProblemAsync(await push.GetAsync("/api/v1/targets"), HttpStatusCode.Forbidden);
        var deviceToken = await f.Admin().CreateDeviceAsync("dev1");
        using var device = f.CreateClient(deviceToken);
        await AssertProblemAsync(await device.GetAsync("/api/v1/targets"), HttpStatusCode.Forbidden);
        await AssertProblemAsync(await device.PostAsync("/api/v1/targets/tags", FleetKit.JsonBody(new { versions = new[] { 1 }, tags = new[] { "a" } })), HttpStatusCode.Forbidden);
        await AssertProblemAsync(await device.GetAsync("/api/v1/devices"), HttpStatusCode.Forbidden);
        await AssertProblemAsync(await device.GetAsync("/api/v1/jobs"), HttpStatusCode.Forbidden);
        using var anonymous = f.CreateClient(null);
        await AssertProblemAsync(await anonymous.GetAsync("/api/v1/targets"), HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task GetTarget_UnknownVersion_Returns404Problem()
    {
        var (f, _, _) = FleetKit.Create();
        using var _f = f;
        await AssertProblemAsync(await f.Admin().GetAsync("/api/v1/targets/99"), HttpStatusCode.NotFound, "No target with version 99");
    }

    [Fact]
    public async Task Tag_ReplacesOrAppends_DryRunChangesNothing_ListFiltersByTag()
    {
        var (f, content, _) = FleetKit.Create();
        using var _f = f;
        var admin = f.Admin();
        await admin.CreateTargetAsync(22, content.AddCommit(22), tags: ["devel"]);
        await admin.CreateTargetAsync(42, content.AddCommit(42), tags: ["devel"]);

        var dry = await admin.PostOkAsync("/api/v1/targets/tags", new { versions = new[] { 42 }, tags = new[] { "master", "promoted" }, dryRun = true });
        Assert.True(dry.GetProperty("dryRun").GetBoolean());
        Assert.Equal(["master", "promoted"], dry.GetProperty("targets")[0].GetProperty("after").EnumerateArray().Select(e => e.GetString()));
        Assert.Empty((await admin.GetFromJsonAsync<JsonElement>("/api/v1/targets?tag=promoted")).EnumerateArray());

        await admin.PostOkAsync("/api/v1/targets/tags", new { versions = new[] { 42 }, tags = new[] { "master", "promoted" } });
        var t42 = await admin.GetFromJsonAsync<JsonElement>("/api/v1/targets/42");
        Assert.Equal(["master", "promoted"], t42.GetProperty("tags").EnumerateArray().Select(e => e.GetString()));

        await admin.PostOkAsync("/api/v1/targets/tags", new { versions = new[] { 22 }, tags = new[] { "promoted" }, append = true });
        var t22 = await admin.GetFromJsonAsync<JsonElement>("/api/v1/targets/22");
        Assert.Equal(["devel", "promoted"], t22.GetProperty("tags").EnumerateArray().Select(e => e.GetString()));

        var promoted = await admin.GetFromJsonAsync<JsonElement>("/api/v1/targets?tag=promoted");
        Assert.Equal([22L, 42L], promoted.EnumerateArray().Select(e => e.GetProperty("version").GetInt64()));
    }

    [Fact]
    public async Task Tag_UnknownVersion_Returns404_AndInvalidTag_Returns400()
    {
        var (f, content, _) = FleetKit.Create();
        using var _f = f;
        var admin = f.Admin();
        await admin.CreateTargetAsync(1, content.AddCommit(1));
        await AssertProblemAsync(await admin.PostAsync("/api/v1/targets/tags", FleetKit.JsonBody(new { versions = new[] { 1, 7 }, tags = new[] { "x" } })), HttpStatusCode.NotFound, "7");
        await AssertProblemAsync(await admin.PostAsync("/api/v1/targets/tags", FleetKit.JsonBody(new { versions = new[] { 1 }, tags = new[] { "-x" } })), HttpStatusCode.BadRequest, "Invalid tag");
        Assert.Empty((await admin.GetFromJsonAsync<JsonElement>("/api/v1/targets/1")).GetProperty("tags").EnumerateArray());
    }

    [Fact]
    public async Task Swagger_ListsEveryFleetEndpoint()
    {
        var (f, _, _) = FleetKit.Create();
        using var _f = f;
        var doc = await f.CreateClient().GetFromJsonAsync<JsonElement>("/swagger/v1/swagger.json");
        var paths = doc.GetProperty("paths");
        var expected = new (string Path, string Method)[]
        {
            ("/api/v1/targets", "post"), ("/api/v1/targets", "get"), ("/api/v1/targets/{version}", "get"), ("/api/v1/targets/{version}", "delete"),
            ("/api/v1/targets/tags", "post"), ("/api/v1/targets/{to}/static-deltas", "post"),
            ("/api/v1/devices", "post"), ("/api/v1/devices", "get"), ("/api/v1/devices/{name}", "get"), ("/api/v1/devices/{name}", "delete"),
            ("/api/v1/devices/checkin", "post"), ("/api/v1/devices/registration-tokens", "post"), ("/api/v1/devices/register", "post"),
            ("/api/v1/jobs", "get"), ("/api/v1/jobs/{id}", "get"), ("/api/v1/jobs/{id}/cancel", "post"), ("/api/v1/jobs/{id}/log", "get"),
        };
        foreach (var (path, method) in expected)
        {
            Assert.True(paths.TryGetProperty(path, out var item), $"{path} missing from swagger.json");
            Assert.True(item.TryGetProperty(method, out _), $"{method.ToUpperInvariant()} {path} missing from swagger.json");
        }
        Assert.True(paths.GetProperty("/api/v1/targets").GetProperty("post").TryGetProperty("requestBody", out _));
    }
}
