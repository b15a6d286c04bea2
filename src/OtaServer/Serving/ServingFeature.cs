using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using OtaServer.Auth;
using OtaServer.Configuration;

namespace OtaServer.Serving;

/// <summary>The static origin: <c>GET</c>/<c>HEAD /repos/{repo}/{**path}</c> serves each repository's archive tree.</summary>
public static class ServingFeature
{
    public const string RoutePattern = "/repos/{repo}/{**path}";

    public static IServiceCollection AddServing(this IServiceCollection services)
    {
        services.AddOptions<ServingOptions>().BindConfiguration(ServingOptions.SectionName)
            .ValidateDataAnnotations().ValidateOnStart();
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<ContentHashCache>();
        services.AddSingleton<SmallObjectCache>();
        services.AddSingleton<DeltaDownloadTracker>();
        services.AddSingleton<RepositoryFileServer>();
        return services;
    }

    /// <summary>Anonymous repository files skip routing and auth (see <see cref="RepositoryFileMiddleware"/>).</summary>
    public static WebApplication UseRepositoryFiles(this WebApplication app)
    {
        if (!app.Services.GetRequiredService<IOptions<OtaServerOptions>>().Value.RequireTokenForRepositories)
            app.UseMiddleware<RepositoryFileMiddleware>();
        return app;
    }

    /// <summary>The route: documents the files in Swagger and serves them when a token is required.</summary>
    public static IEndpointRouteBuilder MapServing(this IEndpointRouteBuilder app)
    {
        var server = app.ServiceProvider.GetRequiredService<RepositoryFileServer>();
        var endpoint = app.MapMethods(RoutePattern, [HttpMethods.Get, HttpMethods.Head], (RequestDelegate)server.ServeRouteAsync)
            .WithDisplayName("Repository file")
            .WithTags("Serving");
        if (app.ServiceProvider.GetRequiredService<IOptions<OtaServerOptions>>().Value.RequireTokenForRepositories)
            endpoint.RequireAuthorization(Scopes.RepositoryFiles);
        return app;
    }
}
