using System.Collections.Concurrent;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using OtaServer.Auth;
using OtaServer.Store;

namespace OtaServer.Devices;

/// <summary>Device and registration tokens: random, shown once, stored only as SHA-256.</summary>
internal static class DeviceTokens
{
    public static string NewToken() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));

    public static byte[] Hash(string token) => SHA256.HashData(Encoding.UTF8.GetBytes(token));
}

/// <summary>
/// Resolves device tokens (looked up by their SHA-256 in the store, cached in memory) to an identity
/// with <c>scope=device</c> and <c>device=&lt;name&gt;</c>. Device tokens reach only the check-in.
/// </summary>
internal sealed class DeviceTokenResolver(IFleetStore store) : ITokenResolver
{
    private readonly ConcurrentDictionary<string, string> _names = new(StringComparer.Ordinal);

    public async ValueTask<ClaimsIdentity?> ResolveAsync(string token, CancellationToken cancellationToken)
    {
        var hash = DeviceTokens.Hash(token);
        var key = Convert.ToBase64String(hash);
        if (!_names.TryGetValue(key, out var name))
        {
            name = await store.FindDeviceNameByTokenHashAsync(hash, cancellationToken);
            if (name is null)
                return null;
            _names[key] = name;
        }
        var identity = new ClaimsIdentity("Bearer", ClaimTypes.Name, Scopes.ClaimType);
        identity.AddClaim(new Claim(ClaimTypes.Name, name));
        identity.AddClaim(new Claim(Scopes.ClaimType, Scopes.Device));
        identity.AddClaim(new Claim(Scopes.DeviceClaimType, name));
        return identity;
    }

    /// <summary>Forgets the cached tokens of a deleted device.</summary>
    public void Forget(string deviceName)
    {
        foreach (var kv in _names)
        {
            if (kv.Value == deviceName)
                _names.TryRemove(kv.Key, out _);
        }
    }
}
