using System.Net.Sockets;
using System.Text;

namespace OtaServer.Tests.Serving;

/// <summary>Hostile request targets sent raw over TCP (no client-side normalisation): only 400 or 404, never the canary.</summary>
public sealed class HostilePathTests(ServingFixture fixture) : IClassFixture<ServingFixture>
{
    public static TheoryData<string> HostileTargets => new()
    {
        "/repos/main/../canary",
        "/repos/main/../../canary",
        "/repos/main/objects/../../../canary",
        "/repos/main/%2e%2e/%2e%2e/canary",
        "/repos/main/%2E%2E/canary",
        "/repos/main/.%2e/.%2e/canary",
        "/repos/main/..%2fcanary",
        "/repos/main/..%2F..%2Fcanary",
        "/repos/main/%2e%2e%2f%2e%2e%2fcanary",
        "/repos/main/objects%2f..%2f..%2f..%2fcanary",
        "/repos/main/objects/..%252f..%252fcanary",
        "/repos/main/..\\..\\canary",
        "/repos/main/..%5c..%5ccanary",
        "/repos/main/objects\\..\\tmp\\secret",
        "/repos/main//canary",
        "/repos/main//tmp/secret",
        "/repos/main/%2ftmp%2fsecret",
        "/repos/main/tmp%2fsecret",
        "/repos/main/tmp/secret",
        "/repos/main/tmp/../tmp/secret",
        "/repos/main/state/secret",
        "/repos/main/extensions/secret",
        "/repos/main/.lock",
        "/repos/main/.secret",
        "/repos/main/%2esecret",
        "/repos/main/objects/ab/.tmp-secret",
        "/repos/main/objects/secret",
        "/repos/main/secret",
        "/repos/main/refs/remotes/origin/secret",
        "/repos/main/refs/heads/../../tmp/secret",
        "/repos/main/objects/ab/%2e%2e/%2e%2e/tmp/secret",
        "/repos/main/%c0%ae%c0%ae/canary",
        "/repos/main/%ef%bc%8e%ef%bc%8e/canary",
        "/repos/main/..;/canary",
        "/repos/main/~/canary",
        "/repos/main/config%00",
        "/repos/main/config\0",
        "/repos/main/config%00/../../canary",
        "/repos/main/" + new string('a', 300),
        "/repos/main/refs/heads/" + string.Join('/', Enumerable.Repeat("a", 700)),
        "/repos/main/%2fetc%2fpasswd",
        "/repos/main/C:%5cWindows",
        "/repos/nosuchrepo/config",
        "/repos/../canary",
        "/repos/%2e%2e/canary",
        "/repos/%2e%2e%2fcanary/config",
        "/repos/main/summary%20",
        "/repos/main/sum mary",
        "http://127.0.0.1/repos/main/../../canary",
        "/repos/main/objects",
        "/repos/main/objects/",
        "/repos/main/refs/heads/",
        "/repos/main/",
    };

    [Theory]
    [MemberData(nameof(HostileTargets))]
    public async Task Get_HostilePath_Returns400Or404AndNeverTheCanary(string target)
    {
        var (status, response) = await RawGetAsync(target);
        Assert.True(status is 400 or 404, $"{target} → {status}\n{response}");
        Assert.DoesNotContain(ServingTestRepo.Canary, response);
    }

    [Fact]
    public async Task Get_RawWellFormedPath_IsServed()
    {
        // The raw client itself works: the same request shape returns the file.
        var (status, response) = await RawGetAsync("/repos/main/config");
        Assert.Equal(200, status);
        Assert.Contains("mode=archive-z2", response);
    }

    private async Task<(int Status, string Response)> RawGetAsync(string target)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(fixture.BaseAddress.Host, fixture.BaseAddress.Port);
        await using var stream = tcp.GetStream();
        var request = $"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: hostile-test\r\nConnection: close\r\n\r\n";
        await stream.WriteAsync(Encoding.Latin1.GetBytes(request));
        using var buffer = new MemoryStream();
        await stream.CopyToAsync(buffer).WaitAsync(TimeSpan.FromSeconds(30));
        var text = Encoding.Latin1.GetString(buffer.ToArray());
        var statusLine = text.Split("\r\n", 2)[0].Split(' ');
        return (int.Parse(statusLine[1]), text);
    }
}
