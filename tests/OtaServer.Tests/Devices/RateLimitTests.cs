using System.Net;
using System.Text.Json;
using OtaServer.Tests.Workflow;

namespace OtaServer.Tests.Devices;

/// <summary>One device or one enrolling address over its limit gets 429 with Retry-After; the rest of the fleet does not notice.</summary>
public sealed class RateLimitTests
{
    [Fact]
    public async Task Checkin_OverTheDevicesLimit_Is429WithRetryAfter_AndOtherDevicesAreServed()
    {
        var (f, content, _) = FleetKit.Create(new Dictionary<string, string?> { ["OtaServer:RateLimits:CheckinsPerMinutePerDevice"] = "3" });
        using var _f = f;
        var admin = f.Admin();
        await admin.CreateTargetAsync(10, content.AddCommit(10), tags: ["stable"], hardwareIds: ["hw1"]);
        var noisy = await admin.CreateDeviceAsync("noisy");
        var quiet = await admin.CreateDeviceAsync("quiet");
        using var noisyClient = f.CreateClient(noisy);
        var body = new { hardwareId = "hw1", tag = "stable", currentCommit = FleetKit.Commit(10) };

        for (var i = 0; i < 3; i++)
            Assert.Equal(HttpStatusCode.OK, (await noisyClient.PostAsync("/api/v1/devices/checkin", FleetKit.JsonBody(body))).StatusCode);
        var limited = await noisyClient.PostAsync("/api/v1/devices/checkin", FleetKit.JsonBody(body));
        Assert.Equal(HttpStatusCode.TooManyRequests, limited.StatusCode);
        Assert.True(limited.Headers.RetryAfter?.Delta is { } after && after > TimeSpan.Zero && after <= TimeSpan.FromMinutes(1));
        var problem = await limited.ReadJsonAsync();
        Assert.Equal(429, problem.GetProperty("status").GetInt32());

        var other = await f.CheckInAsync(quiet, "hw1", "stable", FleetKit.Commit(10));
        Assert.False(other.GetProperty("updateAvailable").GetBoolean());
        // Admin routes are not limited.
        for (var i = 0; i < 10; i++)
            Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync("/api/v1/devices")).StatusCode);
    }

    [Fact]
    public async Task Register_OverTheAddressLimit_Is429()
    {
        var (f, _, _) = FleetKit.Create(new Dictionary<string, string?> { ["OtaServer:RateLimits:RegistrationsPerMinutePerAddress"] = "2" });
        using var _f = f;
        var admin = f.Admin();
        var reg = await admin.PostOkAsync("/api/v1/devices/registration-tokens", new { tag = "field", uses = 10 });
        var token = reg.GetProperty("token").GetString();
        using var anonymous = f.CreateClient();
        for (var i = 0; i < 2; i++)
        {
            Assert.Equal(HttpStatusCode.Created, (await anonymous.PostAsync("/api/v1/devices/register",
                FleetKit.JsonBody(new { registrationToken = token, name = "d" + i, hardwareId = "hw1" }))).StatusCode);
        }

        var limited = await anonymous.PostAsync("/api/v1/devices/register", FleetKit.JsonBody(new { registrationToken = token, name = "d9", hardwareId = "hw1" }));
        Assert.Equal(HttpStatusCode.TooManyRequests, limited.StatusCode);
        Assert.NotNull(limited.Headers.RetryAfter);
        Assert.Equal(HttpStatusCode.NotFound, (await admin.GetAsync("/api/v1/devices/d9")).StatusCode);
    }
}
