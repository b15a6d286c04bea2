using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;

namespace OtaServer.OSTree.Tests.Infrastructure;

/// <summary>Runs the real ostree CLI (the judge) and a few libc calls the tests need.</summary>
internal static partial class Ostree
{
    public sealed record Result(int ExitCode, string StdOut, string StdErr);

    public static Result TryRun(params string[] args)
    {
        var psi = new ProcessStartInfo("ostree")
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
            throw new TimeoutException("ostree " + string.Join(' ', args) + " did not finish in 5 minutes");
        }
        return new Result(p.ExitCode, stdout.Result, stderr.Result);
    }

    public static string Run(params string[] args)
    {
        var r = TryRun(args);
        if (r.ExitCode != 0)
            throw new Xunit.Sdk.XunitException($"ostree {string.Join(' ', args)} exited {r.ExitCode}\n{r.StdOut}\n{r.StdErr}");
        return r.StdOut;
    }

    [LibraryImport("libc", EntryPoint = "setxattr", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int SetXattrNative(string path, string name, byte[] value, nuint size, int flags);

    /// <summary>Sets a user.* xattr through libc (the attr package with setfattr is not installed here).</summary>
    public static bool TrySetXattr(string path, string name, byte[] value) =>
        SetXattrNative(path, name, value, (nuint)value.Length, 0) == 0;

    public static byte[] Utf8(string s) => Encoding.UTF8.GetBytes(s);
}
