using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;
using OtaServer.Configuration;

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
    /// Authentication and authorization. Repository files are anonymous unless
    /// <see cref="OtaServerOptions.RequireTokenForRepositories"/> is set, so that hot path skips token parsing.
    /// </summary>
    public static WebApplication UseOtaAuth(this WebApplication app)
    {
        var tokensForFiles = app.Services.GetRequiredService<IOptions<OtaServerOptions>>().Value.RequireTokenForRepositories;
        app.UseWhen(c => tokensForFiles || !c.Request.Path.StartsWithSegments("/repos", StringComparison.Ordinal), b => b.UseAuthentication());
        app.UseAuthorization();
        return app;
    }
}
