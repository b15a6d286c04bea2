using OtaServer.Tests.Deltas;
using OtaServer.Tests.Infrastructure;

namespace OtaServer.Tests.Signing;

/// <summary>A throwaway signing key in its own GNUPGHOME, with its armored secret and public halves exported to files.</summary>
public sealed record GpgKey(string Home, string Fingerprint, string SecretFile, string PublicFile);

/// <summary>
/// Throwaway gpg keys for the signing tests (gpg is the independent judge and signer there); disposing stops the
/// agents their homes started.
/// </summary>
public sealed class GpgKeys(TempDirectory folder) : IDisposable
{
    private readonly List<string> _homes = [];

    /// <summary>A new RSA signing key in its own GNUPGHOME under <c>folder</c>.</summary>
    public GpgKey NewKey(string name)
    {
        var home = folder.Combine("gnupg-" + name);
        Directory.CreateDirectory(home);
        File.SetUnixFileMode(home, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        _homes.Add(home);
        Gpg(home, "--batch", "--passphrase", "", "--quick-gen-key", $"{name} <{name}@ota.test>", "rsa2048", "sign", "never");
        var fpr = Gpg(home, "--with-colons", "--list-secret-keys").Split('\n').First(l => l.StartsWith("fpr:", StringComparison.Ordinal)).Split(':')[9];
        var secret = folder.Combine(name + ".secret.asc");
        var pub = folder.Combine(name + ".asc");
        File.WriteAllText(secret, Gpg(home, "--armor", "--export-secret-keys", fpr));
        File.WriteAllText(pub, Gpg(home, "--armor", "--export", fpr));
        return new GpgKey(home, fpr, secret, pub);
    }

    /// <summary>Runs gpg on <paramref name="home"/>; asserts it succeeded and returns its output.</summary>
    public static string Gpg(string home, params string[] args)
    {
        var r = OstreeCli.Exec("gpg", ["--homedir", home, "--batch", .. args]);
        Assert.True(r.ExitCode == 0, $"gpg {string.Join(' ', args)}: {r.StdErr}");
        return r.StdOut;
    }

    public void Dispose()
    {
        foreach (var home in _homes)
            OstreeCli.Exec("gpgconf", "--homedir", home, "--kill", "all");
    }
}
