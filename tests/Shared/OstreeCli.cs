using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;

namespace OtaServer.Testing;

/// <summary>
/// Runs the real <c>ostree</c> CLI (the judge of everything we serve and generate) and other programs,
/// and the libc calls the tests need. Shared by both test projects.
/// </summary>
public static partial class OstreeCli
{
    public sealed record Result(int ExitCode, string StdOut, string StdErr);

    public static Result TryRun(params string[] args) => Exec("ostree", args);

    /// <summary>Runs ostree and fails the test with its output if it exits non-zero.</summary>
    public static string Run(params string[] args)
    {
        var r = TryRun(args);
        if (r.ExitCode != 0)
            throw new Xunit.Sdk.XunitException($"ostree {string.Join(' ', args)} exited {r.ExitCode}\n{r.StdOut}\n{r.StdErr}");
        return r.StdOut;
    }

    /// <summary>Runs any program to completion (5 minutes at most), capturing both outputs.</summary>
    public static Result Exec(string program, params string[] args)
    {
        var psi = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in args)
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromMinutes(5)))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"{program} {string.Join(' ', args)} did not finish in 5 minutes");
        }
        p.WaitForExit();
        return new Result(p.ExitCode, stdout.GetAwaiter().GetResult(), stderr.GetAwaiter().GetResult());
    }

    /// <summary>Sets an xattr through libc (setfattr from the attr package is not installed here).</summary>
    public static bool TrySetXattr(string path, string name, byte[] value) =>
        setxattr(path, name, value, (nuint)value.Length, 0) == 0;

    public static void SetXattr(string path, string name, string value)
    {
        if (!TrySetXattr(path, name, Encoding.UTF8.GetBytes(value)))
            throw new IOException($"setxattr {name} on {path} failed: errno {Marshal.GetLastPInvokeError()}");
    }

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int setxattr(string path, string name, byte[] value, nuint size, int flags);
}
