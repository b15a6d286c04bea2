using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using OtaServer.Tests.Infrastructure;

namespace OtaServer.Tests.Diagnostics;

/// <summary>The real server process, started the way run.sh starts it.</summary>
public sealed class StartupTests
{
    [Fact]
    public async Task PortInUse_PrintsOneLineAndExitsNonZero()
    {
        using var busy = new TcpListener(IPAddress.Loopback, 0);
        busy.Start();
        var port = ((IPEndPoint)busy.LocalEndpoint).Port;
        using var data = new TempDirectory("ota-port");
        var psi = new ProcessStartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, "OtaServer.dll")])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        psi.Environment["OtaServer__DataDir"] = data.Path;
        psi.Environment["Urls"] = $"http://127.0.0.1:{port}";
        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);

        Assert.Equal(98, process.ExitCode);
        var err = (await stderr).Trim();
        Assert.Single(err.Split('\n'));
        Assert.Contains($"127.0.0.1:{port}", err);
        Assert.Contains("address already in use", err);
        Assert.DoesNotContain("   at ", await stdout);
        // The admin token is written before the server tries to listen, so a waiting script can read it.
        Assert.True(File.Exists(Path.Combine(data.Path, "admin-token")));
    }
}
