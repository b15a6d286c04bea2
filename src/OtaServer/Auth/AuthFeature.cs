using Microsoft.AspNetCore.Authentication;

namespace OtaServer.Auth;

public static class AuthFeature
{
    public static IServiceCollection AddOtaAuth(this IServiceCollection services)
    {
        services.AddSingleton<ConfiguredTokenResolver>();
        services.AddSingleton<ITokenResolver>(sp => sp.GetRequiredService<ConfiguredTokenResolver>());
        services.AddAuthentication(BearerAuthenticationHandler.SchemeName)
            .AddScheme<AuthenticationSchemeOptions, BearerAuthenticationHandler>(BearerAuthenticationHandler.SchemeName, null);
        var auth = services.AddAuthorizationBuilder();
        foreach (var scope in new[] { Scopes.Push, Scopes.Admin, Scopes.Read, Scopes.Device })
            auth.AddPolicy(scope, p => p.RequireAuthenticatedUser().RequireClaim(Scopes.ClaimType, scope));
        // Devices download the repository files they are told to update to, so their token reads them too
        // (and only that: the device scope reaches no other route but check-in).
        auth.AddPolicy(Scopes.RepositoryFiles, p => p.RequireAuthenticatedUser().RequireClaim(Scopes.ClaimType, Scopes.Read, Scopes.Device));
        return services;
    }

    /// <summary>
    /// Authentication and authorization, after routing. Anonymous repository files never get here
    /// (<see cref="Serving.RepositoryFileMiddleware"/> answers them first).
    /// </summary>
    public static WebApplication UseOtaAuth(this WebApplication app)
    {
        app.UseAuthentication();
        app.UseAuthorization();
        return app;
    }
}
