namespace OtaServer.Serving;

public static class ServingFeature
{
    public static IServiceCollection AddServing(this IServiceCollection services) => services;

    public static IEndpointRouteBuilder MapServing(this IEndpointRouteBuilder app) => app;
}
