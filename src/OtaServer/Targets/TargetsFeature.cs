namespace OtaServer.Targets;

/// <summary>Targets (numbered versions of repository refs) and their tags.</summary>
public static class TargetsFeature
{
    public static IServiceCollection AddTargets(this IServiceCollection services)
    {
        services.AddSingleton<TargetCatalog>();
        return services;
    }

    public static IEndpointRouteBuilder MapTargets(this IEndpointRouteBuilder app)
    {
        TargetsEndpoints.Map(app);
        return app;
    }
}
