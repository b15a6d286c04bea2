using Microsoft.Extensions.DependencyInjection.Extensions;

namespace OtaServer.Store;

/// <summary>
/// The embedded store: one SQLite file in the data folder, created and migrated on first use.
/// Features reach it only through <see cref="IFleetStore"/> and <see cref="IJobStore"/>, so another
/// provider (PostgreSQL) can be added here without touching them.
/// </summary>
public static class StoreFeature
{
    public static IServiceCollection AddStore(this IServiceCollection services)
    {
        services.AddOptions<StoreOptions>().BindConfiguration(StoreOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<SqliteDatabase>();
        services.AddSingleton<IFleetStore, SqliteFleetStore>();
        services.AddSingleton<IJobStore, SqliteJobStore>();
        services.AddSingleton<IWaveStore, SqliteWaveStore>();
        services.AddSingleton<IUpdateHistoryStore, SqliteUpdateHistoryStore>();
        return services;
    }

    public static IEndpointRouteBuilder MapStore(this IEndpointRouteBuilder app) => app;
}
