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

    public string FullDataDir => Path.GetFullPath(DataDir);
}

public sealed class TokenOptions
{
    public string Name { get; set; } = "";
    public string Token { get; set; } = "";
    public List<string> Scopes { get; set; } = [];
}
