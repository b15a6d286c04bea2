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
}

public sealed class SigningKeyOptions
{
    /// <summary>Armored secret key file (<c>gpg --armor --export-secret-keys KEYID</c>).</summary>
    public string SecretKeyFile { get; set; } = "";

    /// <summary>Name of the environment variable holding the key's passphrase; unset or empty for an unprotected key.</summary>
    public string? PassphraseVariable { get; set; }
}
