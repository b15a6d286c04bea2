using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using OtaServer.Tests.Infrastructure;
using OtaServer.Tests.Workflow;

namespace OtaServer.Tests.Fleet;

/// <summary>Issue 10, acceptance 2: while a wave is open on a tag, the tag moves only when forced.</summary>
public sealed class WaveOwnsTagTests
{
    [Fact]
    public async Task TaggingTheWavesTag_IsRefusedNamingTheWave_ChangesNothing_AndIsAcceptedWithForce()
    {
        var (f, content, deltas) = FleetKit.Create();
        using var _f = f;
        var server = f.StartKestrel();
        using var admin = new HttpClient { BaseAddress = server };
        admin.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", OtaServerFactory.AdminToken);
        string c41 = content.AddCommit(41), c42 = content.AddCommit(42), c43 = content.AddCommit(43), c44 = content.AddCommit(44);
        await admin.CreateTargetAsync(41, c41, tags: ["promoted"]);
        await admin.CreateTargetAsync(42, c42);
        await admin.CreateTargetAsync(43, c43);
        deltas.Deltas[(c41, c42)] = new("main", c41, c42, 1, 1, 1, 0, 0, 1, 0, "fake", DateTimeOffset.UtcNow);
        var tokens = new Dictionary<string, string>();
        foreach (var name in new[] { "b1", "p1" })
            tokens[name] = await admin.CreateDeviceAsync(name, "hw1");
        async Task<long> Offered(string name)
        {
            using var http = new HttpClient { BaseAddress = server };
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", tokens[name]);
            var answer = await http.PostOkAsync("api/v1/devices/checkin", new { hardwareId = "hw1", tag = "promoted", currentCommit = c41 });
            return answer.GetProperty("target").GetProperty("version").GetInt64();
        }
        foreach (var name in tokens.Keys)
            await Offered(name);
        await admin.PostOkAsync("api/v1/waves", new { name = "w42", version = 42, tag = "promoted" });
        await admin.PostOkAsync("api/v1/waves/w42/rollout", new { devices = new[] { "b1" } });
        Assert.Equal(42, await Offered("b1"));
        Assert.Equal(41, await Offered("p1"));

        var (exit, stdout, stderr) = await FleetKit.OtactlAsync(server, "targets", "tag", "--by-version", "43", "-T", "promoted", "--append");
        Assert.Equal(OtaCtl.ExitCodes.Conflict, exit);
        Assert.Contains("wave 'w42'", stderr);
        Assert.DoesNotContain("Tags set", stdout);
        using var push = await admin.PostAsync("api/v1/targets", FleetKit.JsonBody(new { version = 44, @ref = "main", commit = c44, tags = new[] { "promoted" } }));
        Assert.Equal(HttpStatusCode.Conflict, push.StatusCode);
        var problem = await push.ReadJsonAsync();
        Assert.Equal("w42", problem.GetProperty("wave").GetString());
        Assert.Contains("force", problem.GetProperty("detail").GetString());
        // Untagging 41 moves the tag too.
        using var untag = await admin.PostAsync("api/v1/targets/tags", FleetKit.JsonBody(new { versions = new[] { 41 }, tags = Array.Empty<string>() }));
        Assert.Equal(HttpStatusCode.Conflict, untag.StatusCode);
        Assert.Equal(42, await Offered("b1"));
        Assert.Equal(41, await Offered("p1"));
        Assert.Equal(404, (int)(await admin.GetAsync("api/v1/targets/44")).StatusCode);

        // Other tags are free to move.
        var other = await FleetKit.OtactlAsync(server, "targets", "tag", "--by-version", "43", "-T", "qa", "--append");
        Assert.True(other.Exit == 0, other.Err);

        var forced = await FleetKit.OtactlAsync(server, "targets", "tag", "--by-version", "43", "-T", "promoted", "--append", "--force");
        Assert.True(forced.Exit == 0, forced.Err);
        Assert.Contains("promoted", forced.Out);
        Assert.Equal(43, await Offered("p1"));
    }
}
