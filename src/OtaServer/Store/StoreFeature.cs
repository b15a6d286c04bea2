using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace OtaServer.Store;

/// <summary>
/// The store: by default one SQLite file in the data folder; with <c>OtaServer:Store:Provider = postgres</c> a shared
/// PostgreSQL database (several replicas). Both are created and migrated on first use. Features reach it only through
/// the store interfaces, so they do not know which provider runs.
/// </summary>
public static class StoreFeature
{
    public static IServiceCollection AddStore(this IServiceCollection services)
    {
        services.AddOptions<StoreOptions>().BindConfiguration(StoreOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<SqliteDatabase>();
        services.AddSingleton<PostgresDatabase>();
        AddProvided<IFleetStore, SqliteFleetStore, PostgresFleetStore>(services);
        AddProvided<IJobStore, SqliteJobStore, PostgresJobStore>(services);
        AddProvided<IWaveStore, SqliteWaveStore, PostgresWaveStore>(services);
        AddProvided<IUpdateHistoryStore, SqliteUpdateHistoryStore, PostgresUpdateHistoryStore>(services);
        return services;
    }

    /// <summary>Registers both implementations; <c>OtaServer:Store:Provider</c> picks one when the store is first asked for.</summary>
    private static void AddProvided<TService, TSqlite, TPostgres>(IServiceCollection services)
        where TService : class where TSqlite : class, TService where TPostgres : class, TService
    {
        services.AddSingleton<TSqlite>();
        services.AddSingleton<TPostgres>();
        services.AddSingleton<TService>(sp => sp.GetRequiredService<IOptions<StoreOptions>>().Value.IsPostgres
            ? sp.GetRequiredService<TPostgres>()
            : sp.GetRequiredService<TSqlite>());
    }

    public static IEndpointRouteBuilder MapStore(this IEndpointRouteBuilder app) => app;
}
