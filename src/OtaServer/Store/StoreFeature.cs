namespace OtaServer.Store;

public static class StoreFeature
{
    public static IServiceCollection AddStore(this IServiceCollection services) => services;

    public static IEndpointRouteBuilder MapStore(this IEndpointRouteBuilder app) => app;
}
