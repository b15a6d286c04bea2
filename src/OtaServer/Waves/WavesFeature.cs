namespace OtaServer.Waves;

public static class WavesFeature
{
    public static IServiceCollection AddWaves(this IServiceCollection services) => services;

    public static IEndpointRouteBuilder MapWaves(this IEndpointRouteBuilder app) => app;
}
