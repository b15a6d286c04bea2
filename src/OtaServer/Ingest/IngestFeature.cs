namespace OtaServer.Ingest;

public static class IngestFeature
{
    public static IServiceCollection AddIngest(this IServiceCollection services)
    {
        services.AddSingleton<ObjectImporter>();
        services.AddSingleton<RefUpdater>();
        return services;
    }

    public static IEndpointRouteBuilder MapIngest(this IEndpointRouteBuilder app) => app.MapIngestEndpoints();
}
