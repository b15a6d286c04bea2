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

    public static IEndpointRouteBuilder MapServing(this IEndpointRouteBuilder app)
    {
        var server = app.ServiceProvider.GetRequiredService<RepositoryFileServer>();
        var endpoint = app.MapMethods(RoutePattern, [HttpMethods.Get, HttpMethods.Head], (RequestDelegate)server.ServeAsync)
            .WithDisplayName("Repository file")
            .WithTags("Serving");
        if (app.ServiceProvider.GetRequiredService<IOptions<OtaServerOptions>>().Value.RequireTokenForRepositories)
            endpoint.RequireAuthorization(Scopes.Read);
        return app;
    }
}
