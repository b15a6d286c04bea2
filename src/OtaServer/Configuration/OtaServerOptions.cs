using System.ComponentModel.DataAnnotations;

namespace OtaServer.Configuration;

/// <summary>The <c>OtaServer</c> configuration section (env form: <c>OtaServer__Key</c>).</summary>
public sealed class OtaServerOptions
{
    public const string SectionName = "OtaServer";

    /// <summary>Folder holding <c>repos/&lt;name&gt;/</c>, the SQLite store and the generated admin token.</summary>
    [Required]
    public string DataDir { get; set; } = "./data";

    /// <summary>Repository names served under <c>/repos/{name}/</c>; <c>main</c> is always present.</summary>
    public List<string> Repositories { get; set; } = [];

    /// <summary>When true, repository files need a bearer token with scope <c>read</c>.</summary>
    public bool RequireTokenForRepositories { get; set; }

    /// <summary>API tokens and their scopes.</summary>
    public List<TokenOptions> Tokens { get; set; } = [];

    /// <summary>
    /// The address devices reach this server at (e.g. <c>https://updates.example.com</c>), used for the check-in's
    /// <c>repositoryUrl</c>. Unset: built from the request (scheme and host, after trusted forwarded headers).
    /// </summary>
    [Url]
    public string? PublicUrl { get; set; }

    /// <summary>Which proxies' <c>X-Forwarded-For/-Proto/-Host</c> are believed.</summary>
    public ProxyOptions Proxy { get; set; } = new();

    public string FullDataDir => Path.GetFullPath(DataDir);
}

public sealed class TokenOptions
{
    public string Name { get; set; } = "";
    public string Token { get; set; } = "";
    public List<string> Scopes { get; set; } = [];
}


public sealed class ProxyOptions
{
    /// <summary>Apply <c>X-Forwarded-*</c> from the proxies below (default on: only loopback proxies are trusted unless listed).</summary>
    public bool ForwardedHeaders { get; set; } = true;

    /// <summary>Proxy addresses whose forwarded headers are believed (default: loopback, i.e. nginx on the same host).</summary>
    public List<string> KnownProxies { get; set; } = [];

    /// <summary>Proxy networks in CIDR form (e.g. <c>10.0.0.0/8</c>).</summary>
    public List<string> KnownNetworks { get; set; } = [];
}
