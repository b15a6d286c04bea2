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
        var parse = root.Parse(args, new ParserConfiguration { ResponseFileTokenReplacer = null });
        if (parse.Errors.Count > 0)
        {
            // A usage mistake: the reasons in a few lines and exit 2, not a wall of help and 1 ("operation failed").
            foreach (var error in parse.Errors)
                await stderr.WriteLineAsync("error: " + Readable(error.Message));
            var command = string.Join(' ', parse.CommandResult.Command is RootCommand ? ["otactl"] : ["otactl", .. CommandPath(parse.CommandResult)]);
            await stderr.WriteLineAsync($"Run '{command} --help' for usage.");
            return ExitCodes.Usage;
        }
        return await parse.InvokeAsync(config, cancellationToken);
    }

    private static IEnumerable<string> CommandPath(System.CommandLine.Parsing.CommandResult result)
    {
        var names = new Stack<string>();
        for (var r = result; r is not null && r.Command is not RootCommand; r = r.Parent as System.CommandLine.Parsing.CommandResult)
            names.Push(r.Command.Name);
        return names;
    }

    /// <summary>The parser's type names in words an operator reads.</summary>
    private static string Readable(string message) => message
        .Replace("as expected type 'System.Int64'", "as a whole number", StringComparison.Ordinal)
        .Replace("as expected type 'System.Int32'", "as a whole number", StringComparison.Ordinal)
        .Replace("as expected type 'System.Double'", "as a number", StringComparison.Ordinal)
        .Replace("as expected type 'System.Nullable`1[System.Int64]'", "as a whole number", StringComparison.Ordinal);
}
