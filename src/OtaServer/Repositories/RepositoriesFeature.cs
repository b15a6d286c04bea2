namespace OtaServer.Repositories;

public static class RepositoriesFeature
{
    /// <summary>The served repositories, what they hold, and the start-up reconciliation (registered first of the hosted services).</summary>
    public static IServiceCollection AddRepositories(this IServiceCollection services)
    {
        services.AddSingleton<RepositoryRegistry>();
        services.AddSingleton<SummaryPairs>();
        services.AddSingleton<IRepositoryContent, RepositoryContent>();
        services.AddHostedService<RepositoryReconciler>();
        return services;
    }
}
