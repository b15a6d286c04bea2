using System.Net;
using System.Net.Http.Headers;
using OtaServer.Tests.Infrastructure;
using OtaServer.Tests.Workflow;

namespace OtaServer.Tests.Serving;

public sealed class DeviceTokenRepositoryTests
{
    /// <summary>Issue 10, acceptance 4: a device token reads repository files that require a token, and nothing else.</summary>
    [Fact]
    public async Task DeviceToken_PullsAProtectedRepositoryWithTheRealClient_ButCannotPushOrAdminister()
    {
        using var f = new OtaServerFactory(new Dictionary<string, string?> { ["OtaServer:RequireTokenForRepositories"] = "true" });
        var server = f.StartKestrel();
        using var work = new TempDirectory("ota-devtoken");
        using var admin = new HttpClient { BaseAddress = server };
        admin.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", OtaServerFactory.AdminToken);
        var commit = FleetKit.OstreeCommitVersion(f.RepoRoot(), work.Path, 1);
        var token = await admin.CreateDeviceAsync("d1", "hw1");

        var client = work.Combine("client");
        OstreeCli.Run("init", $"--repo={client}", "--mode=bare-user");
        OstreeCli.Run("remote", "add", $"--repo={client}", "--no-gpg-verify", "origin", new Uri(server, "repos/main").ToString());
        var anonymous = OstreeCli.TryRun("pull", $"--repo={client}", "origin", "main");
        Assert.NotEqual(0, anonymous.ExitCode);
        var pull = OstreeCli.TryRun("pull", $"--repo={client}", $"--http-header=Authorization=Bearer {token}", "origin", "main");
        Assert.True(pull.ExitCode == 0, $"pull with the device token failed\n{pull.StdOut}\n{pull.StdErr}");
        Assert.Equal(commit, OstreeCli.Run("rev-parse", $"--repo={client}", "origin:main").Trim());
        OstreeCli.Run("fsck", $"--repo={client}");

        using var device = new HttpClient { BaseAddress = server };
        device.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var missing = await device.PostAsync("api/v1/repos/main/objects/missing", FleetKit.JsonBody(new { objects = Array.Empty<string>() }));
        Assert.Equal(HttpStatusCode.Forbidden, missing.StatusCode);
        using var push = await device.PostAsync("api/v1/repos/main/objects", new ByteArrayContent([]));
        Assert.Equal(HttpStatusCode.Forbidden, push.StatusCode);
        using var moveRef = await device.PutAsync("api/v1/repos/main/refs/main", FleetKit.JsonBody(new { commit }));
        Assert.Equal(HttpStatusCode.Forbidden, moveRef.StatusCode);
        using var targets = await device.GetAsync("api/v1/targets");
        Assert.Equal(HttpStatusCode.Forbidden, targets.StatusCode);
        using var devices = await device.GetAsync("api/v1/devices");
        Assert.Equal(HttpStatusCode.Forbidden, devices.StatusCode);
        using var refs = await device.GetAsync("api/v1/repos/main/refs");
        Assert.Equal(HttpStatusCode.Forbidden, refs.StatusCode);
    }
}
