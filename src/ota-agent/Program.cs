namespace OtaAgent;

internal static class Program
{
    // Not top-level statements: a global Program would clash with the server's in the test project.
    public static Task<int> Main(string[] args) => AgentCli.RunAsync(args, Console.Out, Console.Error, CancellationToken.None);
}

/// <summary><c>ota-agent run|run-once|status --config FILE</c>.</summary>
internal static class AgentCli
{
    private const string Usage = "usage: ota-agent run|run-once|status --config FILE";

    public static async Task<int> RunAsync(string[] args, TextWriter stdout, TextWriter stderr, CancellationToken ct)
    {
        if (args.Length != 3 || args[1] != "--config" || args[0] is not ("run" or "run-once" or "status"))
        {
            await stderr.WriteLineAsync(Usage);
            return (int)CycleOutcome.ConfigError;
        }
        try
        {
            var config = AgentConfig.Load(args[2]);
            switch (args[0])
            {
                case "status":
                    // The deployments, default (next boot) first.
                    foreach (var (commit, booted) in await Ostree.DeploymentsAsync(config.Sysroot, config.OsName!, ct))
                        await stdout.WriteLineAsync($"{commit}{(booted ? " (booted)" : "")}");
                    var pending = Path.Combine(config.StateDir, "pending.json");
                    await stdout.WriteLineAsync(File.Exists(pending) ? "Staged update waiting for its reboot: " + await File.ReadAllTextAsync(pending, ct) : "No update staged.");
                    return 0;
                case "run-once":
                    using (var agent = new Agent(config, stdout))
                        return (int)await agent.RunOnceAsync(ct);
                default:
                    return await LoopAsync(config, stdout, ct);
            }
        }
        catch (AgentException e)
        {
            await stderr.WriteLineAsync(e.Message);
            return (int)CycleOutcome.ConfigError;
        }
    }

    /// <summary>Cycles forever: the interval with ±20 % jitter; after server problems, doubling back-off up to an hour.</summary>
    private static async Task<int> LoopAsync(AgentConfig config, TextWriter log, CancellationToken ct)
    {
        var failures = 0;
        while (!ct.IsCancellationRequested)
        {
            CycleOutcome outcome;
            using (var agent = new Agent(config, log))
                outcome = await agent.RunOnceAsync(ct);
            failures = outcome == CycleOutcome.ServerProblem ? failures + 1 : 0;
            var wait = NextDelay(config.IntervalSeconds, failures, Random.Shared.NextDouble());
            await log.WriteLineAsync($"Next cycle in {wait.TotalSeconds:0} s.");
            await Task.Delay(wait, ct);
        }
        return 0;
    }

    /// <summary>The wait before the next cycle: interval × (0.8…1.2); after n server problems in a row, 30 s × 2^n (at most an hour), jittered the same way.</summary>
    public static TimeSpan NextDelay(int intervalSeconds, int failures, double random)
    {
        var seconds = failures == 0 ? intervalSeconds : Math.Min(3600, 30 * Math.Pow(2, Math.Min(failures - 1, 10)));
        return TimeSpan.FromSeconds(seconds * (0.8 + 0.4 * random));
    }
}
