namespace OtaServer.Targets;

/// <summary>Targets (numbered versions of repository refs), tags, and static-delta planning.</summary>
public static class TargetsFeature
{
    public static IServiceCollection AddTargets(this IServiceCollection services)
    {
        services.AddSingleton<TargetCatalog>();
        services.AddSingleton<DeltaLookup>();
        services.AddSingleton<DeltaPlanner>();
        return services;
    }

    public static IEndpointRouteBuilder MapTargets(this IEndpointRouteBuilder app)
    {
        TargetsEndpoints.Map(app);
        return app;
    }
}
