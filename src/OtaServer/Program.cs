using Microsoft.Extensions.Configuration.Json;
using OtaServer.Auth;
using OtaServer.Configuration;
using OtaServer.Deltas;
using OtaServer.Devices;
using OtaServer.Diagnostics;
using OtaServer.Ingest;
using OtaServer.Jobs;
using OtaServer.Repositories;
using OtaServer.Serving;
using OtaServer.Signing;
using OtaServer.Store;
using OtaServer.Targets;
using OtaServer.Waves;

// Content root = the binary's folder, not the working directory: configuration reload watches the content root
// recursively, and a working directory holding ./data made it follow every object the server writes.
var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
// The canonical appsettings.json sits at the repository root and is copied next to the binary;
// it is the lowest-precedence source, so the environment (OtaServer__DataDir …) still wins.
var rootSettings = new JsonConfigurationSource { Path = Path.Combine(AppContext.BaseDirectory, "appsettings.json"), Optional = true };
rootSettings.ResolveFileProvider();
builder.Configuration.Sources.Insert(0, rootSettings);
builder.AddOtaLogging();

builder.Services.AddOptions<OtaServerOptions>().BindConfiguration(OtaServerOptions.SectionName)
    .ValidateDataAnnotations().ValidateOnStart();
builder.Services.AddSingleton(TimeProvider.System);
builder.Services.AddRepositories(); // its reconciler is the first hosted service: before jobs and requests
builder.Services.AddSigning();
builder.Services.AddProxySupport();
builder.Services.AddDiagnostics();
builder.Services.AddOtaAuth();
builder.Services.AddStore();
builder.Services.AddServing();
builder.Services.AddIngest();
builder.Services.AddJobs();
builder.Services.AddDeltas();
builder.Services.AddTargets();
builder.Services.AddDevices();
builder.Services.AddWaves();

var app = builder.Build();
// Create repositories and the first-start admin token before the first request.
app.Services.GetRequiredService<RepositoryRegistry>();
app.Services.GetRequiredService<IEnumerable<ITokenResolver>>();

app.UseProxySupport();      // X-Forwarded-* from trusted proxies, before anything reads the client address
app.UseDiagnostics();        // request log, exception handler, status pages and Swagger
app.UseRepositoryFiles();    // the hot path: anonymous GET/HEAD of repository files, before routing and auth
app.UseRouting();
app.UseDeviceRateLimits(); // per device and per enrolling address, before auth
app.UseOtaAuth();

app.MapDiagnostics();
app.MapServing();
app.MapSigning();
app.MapIngest();
app.MapJobs();
app.MapDeltas();
app.MapTargets();
app.MapDevices();
app.MapWaves();

try
{
    app.Run();
}
catch (Exception e) when (e is Microsoft.AspNetCore.Connections.AddressInUseException || e.InnerException is Microsoft.AspNetCore.Connections.AddressInUseException)
{
    // One line instead of the host's stack traces: the usual cause is a second server on the same port.
    Console.Error.WriteLine($"error: cannot listen: {e.Message} Another process holds the port; stop it or choose another with --urls http://127.0.0.1:PORT (or Urls=...).");
    return 98;
}
return 0;

/// <summary>Entry point; public so integration tests can host the app.</summary>
public partial class Program;
