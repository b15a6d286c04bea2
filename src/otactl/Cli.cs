using System.CommandLine;

namespace OtaCtl;

/// <summary>The otactl command tree. Tests call <see cref="RunAsync"/> in-process.</summary>
public static class Cli
{
    public static Task<int> RunAsync(string[] args, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken) =>
        RunAsync(args, stdout, stderr, null, cancellationToken);

    /// <summary>As above; <paramref name="handler"/> (tests) replaces the network stack.</summary>
    public static async Task<int> RunAsync(string[] args, TextWriter stdout, TextWriter stderr, HttpMessageHandler? handler, CancellationToken cancellationToken)
    {
        var ctx = new CliContext(stdout, stderr, handler);
        var root = new RootCommand("otactl: operate an OtaServer (push commits, targets, deltas, devices, jobs)");
        root.Options.Add(ctx.ServerOption);
        root.Options.Add(ctx.TokenOption);
        // One line per command group; each file builds its group from the shared context.
        root.Subcommands.Add(PushCommand.Create(ctx));
        root.Subcommands.Add(TargetsCommands.Create(ctx));
        root.Subcommands.Add(DevicesCommands.Create(ctx));
        root.Subcommands.Add(JobsCommands.Create(ctx));
        root.Subcommands.Add(WavesCommands.Create(ctx));
        var config = new InvocationConfiguration { Output = stdout, Error = stderr };
        // '@FILE' is ours (waves rollout --devices @FILE, as in fioctl), not a System.CommandLine response file.
        var parser = new ParserConfiguration { ResponseFileTokenReplacer = null };
        return await root.Parse(args, parser).InvokeAsync(config, cancellationToken);
    }
}
