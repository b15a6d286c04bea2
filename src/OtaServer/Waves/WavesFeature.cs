using OtaServer.Targets;

namespace OtaServer.Waves;

/// <summary>Staged rollouts of a target, gated on deltas and on device health.</summary>
public static class WavesFeature
{
    public static IServiceCollection AddWaves(this IServiceCollection services)
    {
        services.AddSingleton<WaveCatalog>();
        services.AddSingleton<WaveCheckin>();
        services.AddSingleton<Devices.IRolloutPolicy>(sp => sp.GetRequiredService<WaveCheckin>());
        services.AddSingleton<ITagOwners, WaveTagGuard>();
        return services;
    }

    public static IEndpointRouteBuilder MapWaves(this IEndpointRouteBuilder app)
    {
        WavesEndpoints.Map(app);
        return app;
    }
}
