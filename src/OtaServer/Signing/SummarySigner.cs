using Microsoft.Extensions.Options;
using Org.BouncyCastle.Bcpg;
using Org.BouncyCastle.Bcpg.OpenPgp;
using OtaServer.OSTree;

namespace OtaServer.Signing;

/// <summary>
/// Makes OSTree's detached signature files: <c>a{sv}</c> with <c>ostree.gpgsigs</c> → <c>aay</c>, one binary
/// OpenPGP signature (BouncyCastle) per configured key over the exact bytes signed. Keys are loaded at start,
/// so a wrong file or passphrase stops the server with a message naming the key.
/// </summary>
public sealed class SummarySigner : Repositories.ISummarySigner
{
    public const string GpgSigsKey = "ostree.gpgsigs";

    private readonly List<(PgpSecretKey Key, PgpPrivateKey Private)> _keys = [];
    private readonly TimeProvider _time;

    public SummarySigner(IOptions<SigningOptions> options, TimeProvider time)
    {
        _time = time;
        foreach (var k in options.Value.Keys)
        {
            var passphrase = string.IsNullOrEmpty(k.PassphraseVariable) ? "" : Environment.GetEnvironmentVariable(k.PassphraseVariable) ?? "";
            _keys.Add(Load(k.SecretKeyFile, passphrase));
        }
    }

    /// <summary>True when at least one key is configured.</summary>
    public bool Enabled => _keys.Count > 0;

    /// <summary>Uppercase hex fingerprints of the signing keys, in configuration order.</summary>
    public IReadOnlyList<string> Fingerprints => _keys.Select(k => Convert.ToHexString(k.Key.PublicKey.GetFingerprint())).ToList();

    /// <summary>
    /// The serialized <c>a{sv}</c> holding one signature per key over each of <paramref name="documents"/>.
    /// (The 2022.7 client rejects a file if any signature in it is BAD, so sign only the file it goes with.)
    /// </summary>
    public byte[] SignSummary(byte[] summary) => SignDetached(summary);

    public byte[] SignDetached(params ReadOnlyMemory<byte>[] documents)
    {
        var sigs = new List<ReadOnlyMemory<byte>>();
        foreach (var data in documents)
        {
            foreach (var (key, priv) in _keys)
        {
            var gen = new PgpSignatureGenerator(key.PublicKey.Algorithm, HashAlgorithmTag.Sha256);
            gen.InitSign(PgpSignature.BinaryDocument, priv);
            var sub = new PgpSignatureSubpacketGenerator();
            sub.SetSignatureCreationTime(false, _time.GetUtcNow().UtcDateTime);
            sub.SetIssuerFingerprint(false, key);
            sub.SetIssuerKeyID(false, key.KeyId);
            gen.SetHashedSubpackets(sub.Generate());
            gen.Update(data.Span);
            using var ms = new MemoryStream();
            using (var bcpg = new BcpgOutputStream(ms))
                gen.Generate().Encode(bcpg);
            sigs.Add(ms.ToArray());
        }
        }

        return GVariant.VarDict((GpgSigsKey, GVariant.ByteArrayArray(sigs))).Serialize();
    }

    /// <summary>The public halves of the signing keys, ASCII-armored, for <c>ostree remote gpg-import</c>.</summary>
    public byte[] ExportPublicKeys()
    {
        using var ms = new MemoryStream();
        using (var armored = new ArmoredOutputStream(ms))
        {
            foreach (var (key, _) in _keys)
                key.PublicKey.Encode(armored);
        }
        return ms.ToArray();
    }

    private static (PgpSecretKey, PgpPrivateKey) Load(string file, string passphrase)
    {
        if (!File.Exists(file))
        {
            throw new OptionsValidationException(SigningOptions.SectionName, typeof(SigningOptions),
                [$"Signing key file '{file}' does not exist: export one with 'gpg --armor --export-secret-keys KEYID > FILE'."]);
        }

        PgpSecretKeyRingBundle bundle;
        try
        {
            using var stream = File.OpenRead(file);
            bundle = new PgpSecretKeyRingBundle(PgpUtilities.GetDecoderStream(stream));
        }
        catch (Exception e) when (e is PgpException or IOException)
        {
            throw new OptionsValidationException(SigningOptions.SectionName, typeof(SigningOptions),
                [$"Signing key file '{file}' is not an OpenPGP secret key ({e.Message})."]);
        }
        foreach (PgpSecretKeyRing ring in bundle.GetKeyRings())
        {
            var key = ring.GetSecretKey();
            if (key is null || !key.IsSigningKey || key.IsPrivateKeyEmpty)
                continue;
            try
            {
                return (key, key.ExtractPrivateKey(passphrase.ToCharArray()));
            }
            catch (PgpException e)
            {
                throw new OptionsValidationException(SigningOptions.SectionName, typeof(SigningOptions),
                    [$"Cannot unlock signing key in '{file}' ({e.Message}): check the passphrase variable."]);
            }
        }
        throw new OptionsValidationException(SigningOptions.SectionName, typeof(SigningOptions),
            [$"Signing key file '{file}' holds no primary key that can sign."]);
    }
}
