using System.Net;
using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.Extensions.Options;

namespace OtaServer.Configuration;

/// <summary>
/// Behind a reverse proxy or CDN: the client address (request log, the commitmeta hold's client identity), scheme and
/// host come from <c>X-Forwarded-*</c> when the connection is from a trusted proxy (<see cref="ProxyOptions"/>).
/// </summary>
internal static class ProxyFeature
{
    public static IServiceCollection AddProxySupport(this IServiceCollection services)
    {
        services.AddOptions<ForwardedHeadersOptions>().Configure<IOptions<OtaServerOptions>>((o, ota) =>
        {
            var proxy = ota.Value.Proxy;
            o.ForwardedHeaders = ForwardedHeaders.XForwardedFor | ForwardedHeaders.XForwardedProto | ForwardedHeaders.XForwardedHost;
            // The framework's defaults (127.0.0.0/8 and ::1) stay unless the operator names the proxies.
            if (proxy.KnownProxies.Count > 0 || proxy.KnownNetworks.Count > 0)
            {
                o.KnownProxies.Clear();
                o.KnownIPNetworks.Clear();
            }
            foreach (var p in proxy.KnownProxies)
            {
                o.KnownProxies.Add(IPAddress.TryParse(p, out var ip) ? ip
                    : throw new OptionsValidationException("OtaServer:Proxy:KnownProxies", typeof(ProxyOptions), [$"'{p}' is not an IP address."]));
            }

            foreach (var n in proxy.KnownNetworks)
            {
                o.KnownIPNetworks.Add(System.Net.IPNetwork.TryParse(n, out var net) ? net
                    : throw new OptionsValidationException("OtaServer:Proxy:KnownNetworks", typeof(ProxyOptions), [$"'{n}' is not a CIDR network such as 10.0.0.0/8."]));
            }
        });
        return services;
    }

    public static WebApplication UseProxySupport(this WebApplication app)
    {
        if (app.Services.GetRequiredService<IOptions<OtaServerOptions>>().Value.Proxy.ForwardedHeaders)
            app.UseForwardedHeaders();
        return app;
    }
}
