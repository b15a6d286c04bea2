namespace OtaServer.Jobs;

public static class JobsFeature
{
    public static IServiceCollection AddJobs(this IServiceCollection services) => services;

    public static IEndpointRouteBuilder MapJobs(this IEndpointRouteBuilder app) => app;
}
