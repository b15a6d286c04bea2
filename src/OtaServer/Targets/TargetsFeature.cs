namespace OtaServer.Targets;

public static class TargetsFeature
{
    public static IServiceCollection AddTargets(this IServiceCollection services) => services;

    public static IEndpointRouteBuilder MapTargets(this IEndpointRouteBuilder app) => app;
}
