using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using OtaServer.Tests.Infrastructure;
using OtaServer.Tests.Workflow;

namespace OtaServer.Tests.Fleet;

/// <summary>Issue 10, acceptance 5: a version built for two hardware ids needs one delta run and one wave.</summary>
public sealed class MultiHardwareVersionTests
{
    [Fact]
    public async Task VersionWithTwoHardwareIds_OneStaticDeltasRunAndOneWave_ServeDevicesOfBoth()
    {
        var (f, content, deltas) = FleetKit.Create();
        using var _f = f;
        var server = f.StartKestrel();
        using var admin = new HttpClient { BaseAddress = server };
        admin.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", OtaServerFactory.AdminToken);
        // One commit per (version, hardware id): 1001 = v1 on hw-a, 1002 = v1 on hw-b, 2001/2002 = v2.
        var commit = new Dictionary<(long, string), string>();
        foreach (var v in new long[] { 1, 2 })
        {
            foreach (var (hw, i) in new[] { ("hw-a", 1), ("hw-b", 2) })
            {
                var c = commit[(v, hw)] = content.AddCommit(v * 1000 + i);
                await admin.CreateTargetAsync(v, c, tags: v == 1 ? ["production"] : [], hardwareIds: [hw]);
            }
        }

        var tokens = new Dictionary<string, (string Token, string Hw)>();
        foreach (var (name, hw) in new[] { ("da", "hw-a"), ("db", "hw-b") })
            tokens[name] = (await admin.CreateDeviceAsync(name, hw), hw);
        async Task<JsonElement> CheckIn(string name, string current)
        {
            using var http = new HttpClient { BaseAddress = server };
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", tokens[name].Token);
            return await http.PostOkAsync("api/v1/devices/checkin", new { hardwareId = tokens[name].Hw, tag = "production", currentCommit = current });
        }
        await CheckIn("da", commit[(1, "hw-a")]);
        await CheckIn("db", commit[(1, "hw-b")]);

        var run = await FleetKit.OtactlAsync(server, "targets", "static-deltas", "--by-tag", "production", "2");
        Assert.True(run.Exit == 0, run.Out + run.Err);
        Assert.Equal(1, deltas.Generations[(commit[(1, "hw-a")], commit[(2, "hw-a")])]);
        Assert.Equal(1, deltas.Generations[(commit[(1, "hw-b")], commit[(2, "hw-b")])]);
        Assert.Equal(2, deltas.Generations.Count);

        var init = await FleetKit.OtactlAsync(server, "waves", "init", "w2", "2", "production");
        Assert.True(init.Exit == 0, init.Err);
        var rollout = await FleetKit.OtactlAsync(server, "waves", "rollout", "w2", "--devices", "da,db");
        Assert.True(rollout.Exit == 0, rollout.Err);
        Assert.Contains("2 device(s)", rollout.Out);

        foreach (var (name, hw) in new[] { ("da", "hw-a"), ("db", "hw-b") })
        {
            var answer = await CheckIn(name, commit[(1, hw)]);
            Assert.Equal(commit[(2, hw)], answer.GetProperty("target").GetProperty("commit").GetString());
            Assert.True(answer.GetProperty("delta").GetProperty("available").GetBoolean(), answer.ToString());
            await CheckIn(name, commit[(2, hw)]);
        }
        var status = await admin.GetFromJsonAsync<JsonElement>("api/v1/waves/w2");
        Assert.Equal(2, status.GetProperty("totals").GetProperty("inScope").GetInt32());
        Assert.Equal(2, status.GetProperty("totals").GetProperty("updated").GetInt32());

        Assert.Equal(0, (await FleetKit.OtactlAsync(server, "waves", "complete", "w2")).Exit);
        var v2 = await admin.GetFromJsonAsync<JsonElement>("api/v1/targets?tag=production");
        Assert.Equal(2, v2.EnumerateArray().Count(t => t.GetProperty("version").GetInt64() == 2));
    }
}
