namespace OtaServer.Auth;

/// <summary>Token scopes, each also the name of the authorization policy that requires it.</summary>
public static class Scopes
{
    public const string Push = "push";
    public const string Admin = "admin";
    public const string Read = "read";
    /// <summary>Held only by device tokens: reaches the device check-in.</summary>
    public const string Device = "device";

    /// <summary>The policy of repository files when they require a token: a <c>read</c> token or a device token (read-only).</summary>
    public const string RepositoryFiles = "repository-files";

    public const string ClaimType = "scope";
    public const string DeviceClaimType = "device";

    public static readonly string[] ConfigurableScopes = [Push, Admin, Read];
}
