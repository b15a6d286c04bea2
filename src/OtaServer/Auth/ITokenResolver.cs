using System.Security.Claims;

namespace OtaServer.Auth;

/// <summary>
/// Turns a presented bearer token into an identity. Several resolvers may be registered
/// (configured API tokens, device tokens from the store); the first that knows the token wins.
/// </summary>
public interface ITokenResolver
{
    ValueTask<ClaimsIdentity?> ResolveAsync(string token, CancellationToken cancellationToken);
}
