using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;
using OtaServer.Configuration;

namespace OtaServer.Auth;

/// <summary>
/// Tokens from configuration, plus the generated admin token (<c>&lt;DataDir&gt;/admin-token</c>)
/// when none are configured. Tokens are compared as SHA-256 digests in constant time.
/// </summary>
internal sealed partial class ConfiguredTokenResolver : ITokenResolver
{
    public const string AdminTokenFile = "admin-token";

    private readonly List<(byte[] Digest, string Name, string[] Scopes)> _tokens = [];

    public ConfiguredTokenResolver(IOptions<OtaServerOptions> options, ILogger<ConfiguredTokenResolver> logger)
    {
        var o = options.Value;
        foreach (var t in o.Tokens)
        {
            if (string.IsNullOrWhiteSpace(t.Token))
                continue;
            var bad = t.Scopes.Where(s => !Scopes.ConfigurableScopes.Contains(s)).ToList();
            if (bad.Count > 0)
            {
                throw new OptionsValidationException(OtaServerOptions.SectionName, typeof(OtaServerOptions),
                    [$"Token '{t.Name}' has unknown scopes {string.Join(',', bad)}; allowed: {string.Join(',', Scopes.ConfigurableScopes)}."]);
            }

            _tokens.Add((Digest(t.Token), string.IsNullOrEmpty(t.Name) ? "token" : t.Name, [.. t.Scopes]));
        }
        if (_tokens.Count == 0)
        {
            var path = Path.Combine(o.FullDataDir, AdminTokenFile);
            var token = LoadOrCreateAdminToken(path, out var created);
            if (created)
                LogAdminTokenCreated(logger, path);
            else
                LogAdminTokenLoaded(logger, path);
            _tokens.Add((Digest(token), "admin", Scopes.ConfigurableScopes));
        }
    }

    public ValueTask<ClaimsIdentity?> ResolveAsync(string token, CancellationToken cancellationToken)
    {
        var digest = Digest(token);
        ClaimsIdentity? found = null;
        foreach (var (d, name, scopes) in _tokens)
        {
            // Check every entry so the time taken does not depend on which one matched.
            if (CryptographicOperations.FixedTimeEquals(d, digest) && found is null)
            {
                found = new ClaimsIdentity(BearerAuthenticationHandler.SchemeName, ClaimTypes.Name, Scopes.ClaimType);
                found.AddClaim(new Claim(ClaimTypes.Name, name));
                foreach (var s in scopes)
                    found.AddClaim(new Claim(Scopes.ClaimType, s));
            }
        }
        return ValueTask.FromResult(found);
    }

    private static byte[] Digest(string token) => SHA256.HashData(Encoding.UTF8.GetBytes(token));

    internal static string LoadOrCreateAdminToken(string path, out bool created)
    {
        created = false;
        if (File.Exists(path))
        {
            var existing = File.ReadAllText(path).Trim();
            if (existing.Length > 0)
                return existing;
        }
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var token = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));
        var temp = path + ".tmp-" + Guid.NewGuid().ToString("N");
        var fso = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
            fso.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        using (var fs = new FileStream(temp, fso))
        using (var w = new StreamWriter(fs))
            w.Write(token + "\n");
        File.Move(temp, path, overwrite: true);
        created = true;
        return token;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "No API tokens configured: created an admin token (all scopes) in {Path}")]
    private static partial void LogAdminTokenCreated(ILogger logger, string path);

    [LoggerMessage(Level = LogLevel.Information, Message = "No API tokens configured: using the admin token in {Path}")]
    private static partial void LogAdminTokenLoaded(ILogger logger, string path);
}
