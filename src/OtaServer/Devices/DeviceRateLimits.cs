using System.ComponentModel.DataAnnotations;
using System.Globalization;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;

namespace OtaServer.Devices;

/// <summary>The <c>OtaServer:RateLimits</c> section: per-caller limits on the routes every device calls.</summary>
public sealed class DeviceRateLimitOptions
{
    public const string SectionName = "OtaServer:RateLimits";

    /// <summary>Enrolments (<c>POST /api/v1/devices/register</c>) per client address and minute; 0 turns the limit off.</summary>
    [Range(0, 1_000_000)]
    public int RegistrationsPerMinutePerAddress { get; set; } = 120;

    /// <summary>Check-ins per device token and minute; 0 turns the limit off. A healthy agent checks in every few minutes.</summary>
    [Range(0, 1_000_000)]
    public int CheckinsPerMinutePerDevice { get; set; } = 120;
}

/// <summary>
/// One misbehaving device (a reboot loop, a broken agent checking in without pause) or one enrolment script
/// cannot starve the fleet: each device token and each enrolling address has its own fixed window, and a
/// caller over it gets 429 with <c>Retry-After</c> while everyone else is served as before.
/// </summary>
internal static class DeviceRateLimits
{
    private const string RegisterPath = "/api/v1/devices/register";
    private const string CheckinPath = "/api/v1/devices/checkin";

    public static IServiceCollection AddDeviceRateLimits(this IServiceCollection services)
    {
        services.AddOptions<DeviceRateLimitOptions>().BindConfiguration(DeviceRateLimitOptions.SectionName)
            .ValidateDataAnnotations().ValidateOnStart();
        services.AddRateLimiter(_ => { });
        services.AddOptions<RateLimiterOptions>().Configure<IOptions<DeviceRateLimitOptions>>((o, limits) =>
        {
            var l = limits.Value;
            o.GlobalLimiter = PartitionedRateLimiter.Create<HttpContext, string>(http => Partition(http, l));
            o.OnRejected = RejectAsync;
        });
        return services;
    }

    public static WebApplication UseDeviceRateLimits(this WebApplication app)
    {
        app.UseRateLimiter();
        return app;
    }

    private static RateLimitPartition<string> Partition(HttpContext http, DeviceRateLimitOptions limits)
    {
        if (!HttpMethods.IsPost(http.Request.Method))
            return RateLimitPartition.GetNoLimiter("");
        var path = http.Request.Path;
        if (limits.CheckinsPerMinutePerDevice > 0 && path.Equals(CheckinPath, StringComparison.Ordinal))
        {
            // Keyed by the bearer header: the device is not authenticated yet at this point, and a wrong token
            // only limits itself. The key lives in memory only, like the header it came from.
            string? key = http.Request.Headers.Authorization;
            return Window("checkin:" + key, limits.CheckinsPerMinutePerDevice);
        }
        if (limits.RegistrationsPerMinutePerAddress > 0 && path.Equals(RegisterPath, StringComparison.Ordinal))
            return Window("register:" + http.Connection.RemoteIpAddress, limits.RegistrationsPerMinutePerAddress);
        return RateLimitPartition.GetNoLimiter("");
    }

    private static RateLimitPartition<string> Window(string key, int permits) =>
        RateLimitPartition.GetFixedWindowLimiter(key, _ => new FixedWindowRateLimiterOptions
        {
            PermitLimit = permits,
            Window = TimeSpan.FromMinutes(1),
            QueueLimit = 0,
            AutoReplenishment = true,
        });

    private static async ValueTask RejectAsync(OnRejectedContext context, CancellationToken cancellationToken)
    {
        var http = context.HttpContext;
        var retry = context.Lease.TryGetMetadata(MetadataName.RetryAfter, out var after) ? after : TimeSpan.FromMinutes(1);
        var seconds = Math.Max(1, (int)Math.Ceiling(retry.TotalSeconds));
        http.Response.StatusCode = StatusCodes.Status429TooManyRequests;
        http.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
        var problems = http.RequestServices.GetRequiredService<IProblemDetailsService>();
        await problems.WriteAsync(new ProblemDetailsContext
        {
            HttpContext = http,
            ProblemDetails =
            {
                Status = StatusCodes.Status429TooManyRequests,
                Title = "Too many requests",
                Detail = $"This caller is over its limit for {http.Request.Path}; retry after {seconds} s.",
            },
        });
    }
}
