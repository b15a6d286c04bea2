using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using OtaServer.Tests.Workflow;

namespace OtaServer.Tests.Devices;

public sealed class DeviceRegistrationTests
{
    [Fact]
    public async Task CreateDevice_ReturnsTokenOnce_StoresOnlyItsSha256()
    {
        var (f, _, _) = FleetKit.Create();
        using var _f = f;
        var token = await f.Admin().CreateDeviceAsync("secretive");
        Assert.Equal(64, token.Length);
        var details = await f.Admin().GetStringAsync("/api/v1/devices/secretive");
        Assert.DoesNotContain(token, details);

        using var db = new SqliteConnection($"Data Source={Path.Combine(f.DataDir, "ota.db")};Pooling=false");
        db.Open();
        using var cmd = db.CreateCommand();
        cmd.CommandText = "SELECT token_hash FROM devices WHERE name = 'secretive'";
        var stored = (byte[])cmd.ExecuteScalar()!;
        Assert.Equal(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(token)), stored);
        foreach (var file in Directory.GetFiles(f.DataDir, "ota.db*"))
        {
            using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            using var reader = new StreamReader(stream, Encoding.Latin1);
            Assert.DoesNotContain(token, await reader.ReadToEndAsync());
        }
    }

    [Fact]
    public async Task CreateDevice_DuplicateName_Returns409_InvalidName_Returns400()
    {
        var (f, _, _) = FleetKit.Create();
        using var _f = f;
        var admin = f.Admin();
        await admin.CreateDeviceAsync("twin");
        Assert.Equal(HttpStatusCode.Conflict, (await admin.PostAsync("/api/v1/devices", FleetKit.JsonBody(new { name = "twin" }))).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await admin.PostAsync("/api/v1/devices", FleetKit.JsonBody(new { name = "no/slash" }))).StatusCode);
    }

    [Fact]
    public async Task RegistrationToken_LetsDevicesRegisterUntilUsedUp()
    {
        var (f, content, _) = FleetKit.Create();
        using var _f = f;
        var admin = f.Admin();
        await admin.CreateTargetAsync(1, content.AddCommit(1), tags: ["field"]);
        var reg = await admin.PostOkAsync("/api/v1/devices/registration-tokens", new { tag = "field", uses = 1 });
        var regToken = reg.GetProperty("token").GetString();
        using var anonymous = f.CreateClient(null);
        var first = await anonymous.PostAsync("/api/v1/devices/register", FleetKit.JsonBody(new { registrationToken = regToken, name = "field-1", hardwareId = "hw1", tag = "field" }));
        Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        var deviceToken = (await first.ReadJsonAsync()).GetProperty("token").GetString()!;
        var checkin = await f.CheckInAsync(deviceToken, "hw1", "field", null);
        Assert.Equal(1, checkin.GetProperty("target").GetProperty("version").GetInt64());

        var second = await anonymous.PostAsync("/api/v1/devices/register", FleetKit.JsonBody(new { registrationToken = regToken, name = "field-2" }));
        Assert.Equal(HttpStatusCode.Unauthorized, second.StatusCode);
        Assert.Contains("used up", (await second.ReadJsonAsync()).GetProperty("detail").GetString());
        var bogus = await anonymous.PostAsync("/api/v1/devices/register", FleetKit.JsonBody(new { registrationToken = "nope", name = "field-3" }));
        Assert.Equal(HttpStatusCode.Unauthorized, bogus.StatusCode);
        var devices = await admin.GetFromJsonAsync<JsonElement>("/api/v1/devices");
        Assert.Equal(["field-1"], devices.EnumerateArray().Select(e => e.GetProperty("name").GetString()));
    }

    [Fact]
    public async Task RegistrationToken_TagAndHardwareId_AreDefaultsForTheDevice()
    {
        var (f, _, _) = FleetKit.Create();
        using var _f = f;
        var admin = f.Admin();
        var reg = await admin.PostOkAsync("/api/v1/devices/registration-tokens", new { tag = "field", hardwareId = "rpi4" });
        using var anonymous = f.CreateClient(null);
        await anonymous.PostOkAsync("/api/v1/devices/register", new { registrationToken = reg.GetProperty("token").GetString(), name = "quiet" });
        var device = await admin.GetFromJsonAsync<JsonElement>("/api/v1/devices/quiet");
        Assert.Equal("field", device.GetProperty("tag").GetString());
        Assert.Equal("rpi4", device.GetProperty("hardwareId").GetString());
    }

    [Theory]
    [InlineData("\"NaN\"")]
    [InlineData("\"Infinity\"")]
    [InlineData("0")]
    [InlineData("-1")]
    [InlineData("9000")]
    public async Task RegistrationToken_WithAnExpiryThatIsNotAPositiveNumberOfHours_Returns400(string hours)
    {
        var (f, _, _) = FleetKit.Create();
        using var _f = f;
        var admin = f.Admin();
        var body = new StringContent("{\"tag\":\"field\",\"expiresInHours\":" + hours + "}", Encoding.UTF8, "application/json");
        var response = await admin.PostAsync("/api/v1/devices/registration-tokens", body);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("expiresInHours", await response.Content.ReadAsStringAsync());
    }
}
