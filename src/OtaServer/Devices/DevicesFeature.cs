using OtaServer.Auth;

namespace OtaServer.Devices;

/// <summary>Devices, their tokens (hashed) and the check-in.</summary>
public static class DevicesFeature
{
    public static IServiceCollection AddDevices(this IServiceCollection services)
    {
        services.AddOptions<DevicesOptions>().BindConfiguration(DevicesOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<DeviceTokenResolver>();
        services.AddSingleton<ITokenResolver>(sp => sp.GetRequiredService<DeviceTokenResolver>());
        services.AddSingleton<CheckinService>();
        services.AddSingleton<UpdatePolicy>();
        services.AddSingleton<LastSeenWriter>();
        services.AddHostedService(sp => sp.GetRequiredService<LastSeenWriter>());
        services.AddDeviceRateLimits();
        return services;
    }

    public static IEndpointRouteBuilder MapDevices(this IEndpointRouteBuilder app)
    {
        DevicesEndpoints.Map(app);
        UpdateReportsEndpoints.Map(app);
        return app;
    }
}
