namespace OtaServer.Jobs;

/// <summary>The persistent job queue (in the store), its worker pool and the jobs API.</summary>
public static class JobsFeature
{
    public static IServiceCollection AddJobs(this IServiceCollection services)
    {
        services.AddOptions<JobsOptions>().BindConfiguration(JobsOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<JobSignals>();
        services.AddSingleton<IJobQueue, JobQueue>();
        services.AddSingleton<JobWorker>();
        services.AddHostedService(sp => sp.GetRequiredService<JobWorker>());
        return services;
    }

    public static IEndpointRouteBuilder MapJobs(this IEndpointRouteBuilder app)
    {
        JobsEndpoints.Map(app);
        return app;
    }
}
