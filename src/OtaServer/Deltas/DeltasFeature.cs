namespace OtaServer.Deltas;

public static class DeltasFeature
{
    public static IServiceCollection AddDeltas(this IServiceCollection services) => services;

    public static IEndpointRouteBuilder MapDeltas(this IEndpointRouteBuilder app) => app;
}
