namespace OtaServer.Devices;

public static class DevicesFeature
{
    public static IServiceCollection AddDevices(this IServiceCollection services) => services;

    public static IEndpointRouteBuilder MapDevices(this IEndpointRouteBuilder app) => app;
}
