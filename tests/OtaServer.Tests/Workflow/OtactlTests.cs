using OtaServer.Tests.Infrastructure;

namespace OtaServer.Tests.Workflow;

public sealed class OtactlTests
{
    [Fact]
    public async Task ServerError_IsPrintedFromProblemDetails_WithItsExitCode()
    {
        var (f, _, _) = FleetKit.Create();
        using var _f = f;
        var server = f.StartKestrel();
        var (exit, _, err) = await FleetKit.OtactlAsync(server, "targets", "show", "99");
        Assert.Equal(OtaCtl.ExitCodes.NotFound, exit);
        Assert.StartsWith("error: No target with version 99", err);
        Assert.Contains("HTTP 404", err);
    }

    [Fact]
    public async Task WrongToken_ExitsUnauthorized_WithAHint()
    {
        var (f, _, _) = FleetKit.Create();
        using var _f = f;
        var server = f.StartKestrel();
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var exit = await OtaCtl.Cli.RunAsync(["jobs", "list", "--server", server.ToString(), "--token", OtaServerFactory.PushToken], stdout, stderr, default);
        Assert.Equal(OtaCtl.ExitCodes.Unauthorized, exit);
        Assert.Contains("scope", stderr.ToString());
    }

    [Fact]
    public async Task NoServer_ExitsWithUsage()
    {
        var previous = Environment.GetEnvironmentVariable("OTA_SERVER");
        Environment.SetEnvironmentVariable("OTA_SERVER", null);
        try
        {
            var stderr = new StringWriter();
            var exit = await OtaCtl.Cli.RunAsync(["jobs", "list"], new StringWriter(), stderr, default);
            Assert.Equal(OtaCtl.ExitCodes.Usage, exit);
            Assert.Contains("--server", stderr.ToString());
        }
        finally
        {
            Environment.SetEnvironmentVariable("OTA_SERVER", previous);
        }
    }

    [Fact]
    public async Task UnreachableServer_ExitsUnreachable()
    {
        var stderr = new StringWriter();
        var exit = await OtaCtl.Cli.RunAsync(["jobs", "list", "--server", "http://127.0.0.1:1/"], new StringWriter(), stderr, default);
        Assert.Equal(OtaCtl.ExitCodes.Unreachable, exit);
        Assert.Contains("Cannot reach the server", stderr.ToString());
    }
}

public sealed class OtactlUsageTests
{
    [Theory]
    [InlineData(new[] { "targets", "lsit" }, "lsit", "otactl targets --help")]
    [InlineData(new[] { "targets", "show", "abc" }, "'abc'", "otactl targets show --help")]
    [InlineData(new[] { "push", "--version", "x", "repo", "main" }, "as a whole number", "otactl push --help")]
    public async Task UsageMistake_ExitsUsage_WithAShortMessage(string[] args, string mention, string hint)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var exit = await OtaCtl.Cli.RunAsync(args, stdout, stderr, default);
        var err = stderr.ToString();
        Assert.Equal(OtaCtl.ExitCodes.Usage, exit);
        Assert.StartsWith("error: ", err);
        Assert.Contains(mention, err);
        Assert.Contains(hint, err);
        Assert.DoesNotContain("System.", err);
        Assert.True(err.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length <= 4, err);
        Assert.Equal("", stdout.ToString());
    }
}
