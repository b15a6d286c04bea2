namespace OtaServer.Signing;

/// <summary>
/// The <c>OtaServer:Signing</c> section: OpenPGP keys that sign every repository's <c>summary</c>.
/// Several keys sign side by side (rotation: add the new key, let devices import it, then drop the old one).
/// </summary>
public sealed class SigningOptions
{
    public const string SectionName = "OtaServer:Signing";

    /// <summary>The signing keys; empty means summaries are not signed.</summary>
    public List<SigningKeyOptions> Keys { get; set; } = [];

    /// <summary>Per repository (by name): the commit-signature policy (<c>OtaServer:Signing:Repositories:main:…</c>).</summary>
    public Dictionary<string, RepositorySigningOptions> Repositories { get; set; } = new(StringComparer.Ordinal);
}

public sealed class SigningKeyOptions
{
    /// <summary>Armored secret key file (<c>gpg --armor --export-secret-keys KEYID</c>).</summary>
    public string SecretKeyFile { get; set; } = "";

    /// <summary>Name of the environment variable holding the key's passphrase; unset or empty for an unprotected key.</summary>
    public string? PassphraseVariable { get; set; }
}

/// <summary>Which commits a repository's refs may point at.</summary>
public sealed class RepositorySigningOptions
{
    /// <summary>A ref moves only to a commit whose detached metadata holds a good signature by one of <see cref="TrustedKeyFiles"/>.</summary>
    public bool RequireSignedCommits { get; set; }

    /// <summary>Armored public key files (<c>gpg --armor --export KEYID</c>), each holding one or more keys.</summary>
    public List<string> TrustedKeyFiles { get; set; } = [];
}
