using Microsoft.Extensions.Options;
using Org.BouncyCastle.Bcpg;
using Org.BouncyCastle.Bcpg.OpenPgp;
using OtaServer.OSTree;

namespace OtaServer.Signing;

/// <summary>Why a commit is not acceptable under <see cref="RepositorySigningOptions.RequireSignedCommits"/>.</summary>
public sealed record CommitSignatureRefusal(string Reason, string Title, string Detail);

/// <summary>
/// <c>RequireSignedCommits</c>: a ref of such a repository only moves to a commit whose detached metadata
/// (<c>ostree.gpgsigs</c>) holds a good OpenPGP signature over the commit object's bytes by one of the repository's
/// trusted keys (BouncyCastle; the same check the ostree client makes with gpg-verify=true). Keys are loaded at
/// start, so a missing or unreadable key file stops the server with a message naming it.
/// </summary>
public sealed class CommitSignaturePolicy
{
    private readonly Dictionary<string, PgpPublicKeyRingBundle> _trusted = new(StringComparer.Ordinal);
    private readonly TimeProvider _time;

    public CommitSignaturePolicy(IOptions<SigningOptions> options, TimeProvider time)
    {
        _time = time;
        foreach (var (repo, policy) in options.Value.Repositories)
        {
            if (!policy.RequireSignedCommits)
                continue;
            if (policy.TrustedKeyFiles.Count == 0)
                throw Invalid($"Repository '{repo}' requires signed commits but lists no trusted key: set {SigningOptions.SectionName}:Repositories:{repo}:TrustedKeyFiles:0 to an armored public key file ('gpg --armor --export KEYID > FILE').");
            var rings = new List<PgpPublicKeyRing>();
            foreach (var file in policy.TrustedKeyFiles)
                rings.AddRange(LoadPublicKeys(file));
            _trusted[repo] = new PgpPublicKeyRingBundle(rings);
        }
    }

    /// <summary>True when refs of <paramref name="repo"/> only move to signed commits.</summary>
    public bool Requires(string repo) => _trusted.ContainsKey(repo);

    /// <summary>Why <paramref name="commit"/> may not become a ref of <paramref name="repoName"/>, or null when it may.</summary>
    public CommitSignatureRefusal? Check(string repoName, ArchiveRepository repo, Checksum commit)
    {
        if (!_trusted.TryGetValue(repoName, out var trusted))
            return null;
        var commitBytes = repo.ReadMetadata(new ObjectName(commit, ObjectType.Commit));
        IReadOnlyList<ReadOnlyMemory<byte>> signatures;
        try
        {
            signatures = DetachedMetadata.Signatures(repo.ReadCommitMeta(commit));
        }
        catch (FormatException e)
        {
            return new("bad-signature", "Bad commit signature", $"The detached metadata of {commit} cannot be read ({e.Message}); re-sign it with 'ostree gpg-sign'.");
        }
        return Check(repoName, trusted, commit, commitBytes, signatures);
    }

    private CommitSignatureRefusal? Check(string repoName, PgpPublicKeyRingBundle trusted, Checksum commit, byte[] commitBytes,
        IReadOnlyList<ReadOnlyMemory<byte>> signatures)
    {
        const string How = "Sign it where it is built ('ostree gpg-sign --repo=REPO COMMIT KEYID' or 'ostree commit --gpg-sign=KEYID') with a trusted key and push again";
        if (signatures.Count == 0)
        {
            return new("unsigned", "Commit not signed",
                $"Repository '{repoName}' requires signed commits and {commit} has no signature. {How}.");
        }

        var untrusted = new List<string>();
        var bad = new List<string>();
        foreach (var data in signatures)
        {
            foreach (var sig in ParseSignatures(data))
            {
                var key = trusted.GetPublicKey(sig.KeyId);
                if (key is null)
                {
                    untrusted.Add(IssuerOf(sig));
                    continue;
                }
                var fingerprint = Convert.ToHexString(PrimaryOf(trusted, sig.KeyId).GetFingerprint());
                if (key.HasRevocation())
                {
                    untrusted.Add(fingerprint + " (revoked)");
                    continue;
                }
                if (key.GetValidSeconds() > 0 && key.CreationTime.AddSeconds(key.GetValidSeconds()) < _time.GetUtcNow().UtcDateTime)
                {
                    untrusted.Add(fingerprint + " (expired)");
                    continue;
                }
                bool good;
                try
                {
                    sig.InitVerify(key);
                    sig.Update(commitBytes);
                    good = sig.Verify();
                }
                catch (PgpException)
                {
                    good = false;
                }
                if (good)
                    return null;
                bad.Add(fingerprint);
            }
        }
        if (bad.Count > 0)
        {
            return new("bad-signature", "Bad commit signature",
                $"The signature on {commit} by trusted key {string.Join(", ", bad.Distinct())} does not match the commit (BAD signature). {How}.");
        }

        if (untrusted.Count > 0)
        {
            return new("untrusted-key", "Commit signed by an untrusted key",
                $"{commit} is signed only by key {string.Join(", ", untrusted.Distinct())}, which repository '{repoName}' does not trust. {How}, or add the key to {SigningOptions.SectionName}:Repositories:{repoName}:TrustedKeyFiles.");
        }

        return new("bad-signature", "Bad commit signature",
            $"The detached metadata of {commit} holds no readable OpenPGP signature. {How}.");
    }

    private static IEnumerable<PgpSignature> ParseSignatures(ReadOnlyMemory<byte> data)
    {
        var list = new List<PgpSignature>();
        try
        {
            var factory = new PgpObjectFactory(data.ToArray());
            while (factory.NextPgpObject() is { } o)
            {
                if (o is PgpSignatureList sigs)
                {
                    for (var i = 0; i < sigs.Count; i++)
                        list.Add(sigs[i]);
                }
            }
        }
        catch (Exception e) when (e is IOException or PgpException)
        {
            // An unreadable blob carries no signature; the others still count.
        }
        return list;
    }

    private static PgpPublicKey PrimaryOf(PgpPublicKeyRingBundle bundle, long keyId) =>
        bundle.GetPublicKeyRing(keyId)?.GetPublicKey() ?? bundle.GetPublicKey(keyId);

    /// <summary>The issuer's fingerprint when the signature names it (GnuPG ≥ 2.2 does), else its key id.</summary>
    private static string IssuerOf(PgpSignature sig)
    {
        var hashed = sig.GetHashedSubPackets();
        foreach (var packet in hashed?.GetSubpackets(SignatureSubpacketTag.IssuerFingerprint) ?? [])
        {
            if (packet is Org.BouncyCastle.Bcpg.Sig.IssuerFingerprint f)
                return Convert.ToHexString(f.GetFingerprint());
        }

        return sig.KeyId.ToString("X16");
    }

    private static IEnumerable<PgpPublicKeyRing> LoadPublicKeys(string file)
    {
        if (!File.Exists(file))
            throw Invalid($"Trusted key file '{file}' does not exist: export one with 'gpg --armor --export KEYID > FILE'.");
        try
        {
            using var stream = File.OpenRead(file);
            var bundle = new PgpPublicKeyRingBundle(PgpUtilities.GetDecoderStream(stream));
            var rings = bundle.GetKeyRings().ToList();
            if (rings.Count == 0)
                throw Invalid($"Trusted key file '{file}' holds no public key.");
            return rings;
        }
        catch (Exception e) when (e is PgpException or IOException)
        {
            throw Invalid($"Trusted key file '{file}' is not an OpenPGP public key ({e.Message}).");
        }
    }

    private static OptionsValidationException Invalid(string message) =>
        new(SigningOptions.SectionName, typeof(SigningOptions), [message]);
}
