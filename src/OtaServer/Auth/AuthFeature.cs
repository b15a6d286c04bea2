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
