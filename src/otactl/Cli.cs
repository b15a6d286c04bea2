using System.CommandLine;

namespace OtaCtl;

/// <summary>The otactl command tree. Tests call <see cref="RunAsync"/> in-process.</summary>
public static class Cli
{
    public static async Task<int> RunAsync(string[] args, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken)
    {
        var server = new Option<string?>("--server") { Description = "Server base URL (default: $OTA_SERVER)", Recursive = true };
        var token = new Option<string?>("--token") { Description = "API token (default: $OTA_TOKEN)", Recursive = true };
        var root = new RootCommand("otactl: operate an OtaServer (push commits, targets, deltas, devices, jobs)")
        {
            server,
            token,
            PushCommand.Create(server, token),
        };
        var config = new InvocationConfiguration { Output = stdout, Error = stderr };
        return await root.Parse(args).InvokeAsync(config, cancellationToken);
    }
}
