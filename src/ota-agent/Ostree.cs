using System.Diagnostics;
using System.Text.RegularExpressions;

namespace OtaAgent;

/// <summary>The OS's ostree CLI: the only thing the agent needs on the device.</summary>
internal static partial class Ostree
{
    public sealed record Result(int Exit, string Out, string Err)
    {
        public bool Ok => Exit == 0;
        public string Message => (Err.Trim().Length > 0 ? Err : Out).Trim();
    }

    public static async Task<Result> RunAsync(IEnumerable<string> args, CancellationToken ct) => await RunProcessAsync("ostree", args, ct);

    public static async Task<Result> RunProcessAsync(string file, IEnumerable<string> args, CancellationToken ct)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args)
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi) ?? throw new AgentException($"Cannot start {file}.");
        var stdout = p.StandardOutput.ReadToEndAsync(ct);
        var stderr = p.StandardError.ReadToEndAsync(ct);
        await p.WaitForExitAsync(ct);
        return new Result(p.ExitCode, await stdout, await stderr);
    }

    /// <summary>Runs a configured command line (reboot, health check) through /bin/sh.</summary>
    public static Task<Result> ShellAsync(string commandLine, CancellationToken ct) => RunProcessAsync("/bin/sh", ["-c", commandLine], ct);

    /// <summary>
    /// The deployments of <paramref name="osName"/>, default (next boot) first, as <c>ostree admin status</c> lists them;
    /// Booted marks the one running (only on a booted system).
    /// </summary>
    public static async Task<IReadOnlyList<(string Commit, bool Booted)>> DeploymentsAsync(string sysroot, string osName, CancellationToken ct)
    {
        var r = await RunAsync(["admin", "--sysroot=" + sysroot, "status"], ct);
        if (!r.Ok)
            throw new AgentException($"ostree admin status failed: {r.Message}");
        var list = new List<(string, bool)>();
        foreach (var line in r.Out.Split('\n'))
        {
            if (DeploymentLine().Match(line) is { Success: true } m && m.Groups[2].Value == osName)
                list.Add((m.Groups[3].Value, m.Groups[1].Value == "*" && File.Exists("/run/ostree-booted") && sysroot == "/"));
        }

        return list;
    }

    [GeneratedRegex(@"^\s*(\*)?\s*(\S+)\s+([0-9a-f]{64})\.\d+")]
    private static partial Regex DeploymentLine();
}
