using Microsoft.OpenApi;
using Serilog;

namespace OtaServer.Diagnostics;

/// <summary>Logging (Serilog, one line per request: <see cref="RequestLogMiddleware"/>), health check, ProblemDetails and Swagger.</summary>
public static class DiagnosticsFeature
{
    public static WebApplicationBuilder AddOtaLogging(this WebApplicationBuilder builder)
    {
        builder.Services.AddSerilog((services, lc) => lc
            .ReadFrom.Configuration(builder.Configuration)
            .ReadFrom.Services(services)
            .Enrich.FromLogContext()
            // A busy port is reported by Program in one line; the host's stack trace for it says nothing more.
            .Filter.ByExcluding(e => e.Exception?.InnerException is Microsoft.AspNetCore.Connections.AddressInUseException));
        return builder;
    }

    public static IServiceCollection AddDiagnostics(this IServiceCollection services)
    {
        services.AddProblemDetails();
        services.AddExceptionHandler<StorageFullExceptionHandler>();
        services.AddHealthChecks();
        services.AddEndpointsApiExplorer();
        services.AddSwaggerGen(o =>
        {
            o.SwaggerDoc("v1", new OpenApiInfo { Title = "OtaServer API", Version = "v1" });
            o.AddSecurityDefinition("Bearer", new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.Http,
                Scheme = "bearer",
                Description = "API token (scopes push, admin, read) or a device token.",
            });
            o.AddSecurityRequirement(doc => new OpenApiSecurityRequirement
            {
                [new OpenApiSecuritySchemeReference("Bearer", doc)] = [],
            });
        });
        return services;
    }

    public static WebApplication UseDiagnostics(this WebApplication app)
    {
        app.UseMiddleware<RequestLogMiddleware>();
        app.UseExceptionHandler();
        // Repository files are the hot path: they answer their own 404s and never need Swagger, so
        // those middlewares only run for the other routes.
        app.UseWhen(IsNotRepositoryFile, branch =>
        {
            branch.UseStatusCodePages();
            branch.UseSwagger();
            branch.UseSwaggerUI(o => o.SwaggerEndpoint("/swagger/v1/swagger.json", "OtaServer API v1"));
        });
        return app;
    }

    private static bool IsNotRepositoryFile(HttpContext context) =>
        !context.Request.Path.StartsWithSegments("/repos", StringComparison.Ordinal);

    public static IEndpointRouteBuilder MapDiagnostics(this IEndpointRouteBuilder app)
    {
        app.MapHealthChecks("/healthz");
        return app;
    }
}
