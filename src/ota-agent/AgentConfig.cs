using System.Text.Json;
using System.Text.Json.Serialization;

namespace OtaAgent;

/// <summary>The agent's JSON configuration (see README, "Put a device on OtaServer").</summary>
internal sealed record AgentConfig
{
    public string? Server { get; init; }
    public string? RegistrationToken { get; init; }
    public string? DeviceName { get; init; }
    public string? HardwareId { get; init; }
    public string? Tag { get; init; }
    public string Sysroot { get; init; } = "/";
    public string? OsName { get; init; }
    public string Remote { get; init; } = "ota";
    public string? CaFile { get; init; }
    public string RebootCommand { get; init; } = "systemctl reboot";
    public string? HealthCheckCommand { get; init; }
    public string StateDir { get; init; } = "/var/lib/ota-agent";
    public string? TokenFile { get; init; }
    /// <summary>Free bytes kept on the repository's filesystem beyond what the update needs.</summary>
    public long FreeSpaceMarginBytes { get; init; } = 64L * 1024 * 1024;
    public int IntervalSeconds { get; init; } = 300;
    /// <summary>Tries per delta file in one cycle when the link breaks (each resumes where the last stopped).</summary>
    public int DownloadAttempts { get; init; } = 8;
    /// <summary>Wait before resuming a cut transfer, times the attempt number.</summary>
    public int DownloadRetryDelayMilliseconds { get; init; } = 2000;
    /// <summary>A transfer that receives nothing for this long counts as cut.</summary>
    public int DownloadIdleTimeoutSeconds { get; init; } = 60;

    [JsonIgnore]
    public string TokenPath => TokenFile ?? Path.Combine(StateDir, "device-token");

    [JsonIgnore]
    public string RepoPath => Path.Combine(Sysroot, "ostree", "repo");

    public static AgentConfig Load(string path)
    {
        AgentConfig? config;
        try
        {
            config = JsonSerializer.Deserialize(File.ReadAllText(path), AgentJson.Default.AgentConfig);
        }
        catch (JsonException e)
        {
            throw new AgentException($"The config file {path} is not valid JSON: {e.Message}");
        }
        catch (IOException e)
        {
            throw new AgentException($"Cannot read the config file {path}: {e.Message}");
        }
        if (config is null)
            throw new AgentException($"The config file {path} is empty; write a JSON object with at least 'server', 'hardwareId', 'tag' and 'osName'.");
        foreach (var (key, value) in new[] { ("server", config.Server), ("hardwareId", config.HardwareId), ("tag", config.Tag), ("osName", config.OsName) })
        {
            if (string.IsNullOrWhiteSpace(value))
                throw new AgentException($"The config file {path} lacks '{key}'.");
        }

        if (!Uri.TryCreate(config.Server, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
            throw new AgentException($"'server' must be an http(s) URL (got '{config.Server}').");
        return config;
    }
}

/// <summary>A failure the agent explains in one sentence (no stack trace).</summary>
internal sealed class AgentException(string message) : Exception(message);

/// <summary>What the agent remembers between cycles (an update staged, waiting for its reboot).</summary>
internal sealed record PendingUpdate(long Version, string Commit, string PreviousCommit, bool RolledBack = false);

/// <summary>Written just before <c>ostree admin deploy</c> runs, removed once its outcome is known (a kill in between is resolved by the next cycle).</summary>
internal sealed record DeployIntent(long Version, string Commit, string PreviousCommit);

internal sealed record RegisterRequest(string RegistrationToken, string Name, string? HardwareId, string? Tag);
internal sealed record RegisterDevice(string Name);
internal sealed record RegisterResponse(RegisterDevice Device, string Token);
internal sealed record LastUpdate(long Version, string Result, string? Detail);
internal sealed record CheckinRequest(string HardwareId, string Tag, string? CurrentCommit, LastUpdate? LastUpdate = null);
internal sealed record CheckinTarget(long Version, string Commit, string Ref, string RepositoryUrl);
internal sealed record CheckinDelta(bool Available, long? From, string? FromCommit, long Size, long DownloadBytes = 0, long RequiredBytes = 0);
internal sealed record CheckinResponse(bool UpdateAvailable, long? CurrentVersion, CheckinTarget? Target, CheckinDelta? Delta);
internal sealed record ReportRequest(string Step, long? TargetVersion, string? TargetCommit, long? Bytes, string? Detail);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(AgentConfig))]
[JsonSerializable(typeof(PendingUpdate))]
[JsonSerializable(typeof(DeployIntent))]
[JsonSerializable(typeof(RegisterRequest))]
[JsonSerializable(typeof(RegisterResponse))]
[JsonSerializable(typeof(CheckinRequest))]
[JsonSerializable(typeof(CheckinResponse))]
[JsonSerializable(typeof(ReportRequest))]
internal sealed partial class AgentJson : JsonSerializerContext;
