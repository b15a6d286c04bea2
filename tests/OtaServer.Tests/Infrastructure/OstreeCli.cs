using System.Diagnostics;
using System.Text;

namespace OtaServer.Tests.Infrastructure;

/// <summary>Runs the real <c>ostree</c> CLI (the judge of everything we serve and generate).</summary>
public static class OstreeCli
{
    public sealed record Result(int ExitCode, string StdOut, string StdErr);

    public static Result TryRun(params string[] args) => TryRunIn(null, args);

    public static Result TryRunIn(string? workingDirectory, params string[] args)
    {
        var psi = new ProcessStartInfo("ostree")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (workingDirectory is not null)
            psi.WorkingDirectory = workingDirectory;
        foreach (var a in args)
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = new StringBuilder();
        var stderr = new StringBuilder();
        p.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (stdout) stdout.AppendLine(e.Data); };
        p.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (stderr) stderr.AppendLine(e.Data); };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        if (!p.WaitForExit(TimeSpan.FromMinutes(5)))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException("ostree " + string.Join(' ', args) + " did not finish in 5 minutes");
        }
        p.WaitForExit();
        return new Result(p.ExitCode, stdout.ToString(), stderr.ToString());
    }

    /// <summary>Runs ostree and fails the test with its output if it exits non-zero.</summary>
    public static string Run(params string[] args)
    {
        var r = TryRun(args);
        if (r.ExitCode != 0)
            throw new Xunit.Sdk.XunitException($"ostree {string.Join(' ', args)} exited {r.ExitCode}\n{r.StdOut}\n{r.StdErr}");
        return r.StdOut;
    }
}
