namespace OtaServer.Deltas;

public static class DeltasFeature
{
    public static IServiceCollection AddDeltas(this IServiceCollection services)
    {
        services.AddOptions<DeltasOptions>().BindConfiguration(DeltasOptions.SectionName)
            .Validate(o => o.MaxPartSize > 0 && o.MinFallbackSize >= 0 && o.XzPreset is >= 0 and <= 9,
                "OtaServer:Deltas needs MaxPartSize > 0, MinFallbackSize >= 0 and XzPreset 0-9.")
            .ValidateOnStart();
        services.AddSingleton<DeltaService>();
        services.AddSingleton<IDeltaService>(sp => sp.GetRequiredService<DeltaService>());
        services.AddSingleton<DeltaLookup>();
        services.AddSingleton<DeltaPlanner>();
        services.AddSingleton<Jobs.IJobHandler, StaticDeltasJobHandler>();
        services.AddHostedService<DeltaCleanupService>();
        return services;
    }

    public static IEndpointRouteBuilder MapDeltas(this IEndpointRouteBuilder app)
    {
        app.MapDeltasEndpoints();
        StaticDeltasEndpoints.Map(app);
        return app;
    }
}
