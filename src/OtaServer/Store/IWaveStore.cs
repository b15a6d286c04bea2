using System.Text.Json.Serialization;

namespace OtaServer.Store;

/// <summary>
/// Active: scheduled devices get the wave's version. Holding: the same, but no new rollout step until
/// the operator resumes (success gate). Paused: the health gate tripped; devices that have not updated
/// get the tag's target. Completed: the tag now serves the version. Cancelled: stopped.
/// </summary>
[JsonConverter(typeof(JsonStringEnumConverter<WaveStatus>))]
public enum WaveStatus { Active, Holding, Paused, Completed, Cancelled }

public sealed record Wave(
    string Name,
    long TargetId,
    string Repository,
    long Version,
    string Commit,
    string Tag,
    string? HardwareId,
    WaveStatus Status,
    string? StatusReason,
    double FailureRatio,
    int MinSample,
    bool PauseAfterStep,
    int Steps,
    DateTimeOffset CreatedAt,
    DateTimeOffset? FinishedAt)
{
    public bool IsFinal => Status is WaveStatus.Completed or WaveStatus.Cancelled;
}

/// <summary><paramref name="ScheduledBy"/>: the token name of the operator who scheduled the step (null for devices that joined a followed group).</summary>
public sealed record WaveDevice(string Wave, string Device, int Step, DateTimeOffset ScheduledAt, string? Result, string? Detail, DateTimeOffset? ResultAt, string? ScheduledBy = null);

/// <summary>Waves (staged rollouts) and the devices scheduled in them.</summary>
public interface IWaveStore
{
    Task<IReadOnlyList<Wave>> ListWavesAsync(CancellationToken cancellationToken);

    /// <summary>False when the name is taken.</summary>
    Task<bool> AddWaveAsync(Wave wave, CancellationToken cancellationToken);

    Task SetWaveStatusAsync(string name, WaveStatus status, string? reason, DateTimeOffset? finishedAt, CancellationToken cancellationToken);

    /// <summary>Schedules devices as the next step of the wave (devices already in it are skipped). Returns how many were added.</summary>
    Task<int> AddWaveDevicesAsync(string wave, IReadOnlyCollection<string> devices, DateTimeOffset now, string? by, CancellationToken cancellationToken);

    Task<IReadOnlyList<WaveDevice>> ListWaveDevicesAsync(string wave, CancellationToken cancellationToken);

    /// <summary>A group rolled out whole at <paramref name="step"/>: devices that join it later are scheduled at that step when they check in.</summary>
    Task AddWaveGroupAsync(string wave, string group, int step, CancellationToken cancellationToken);

    /// <summary>The groups a wave follows, with the step that rolled each out.</summary>
    Task<IReadOnlyDictionary<string, int>> ListWaveGroupsAsync(string wave, CancellationToken cancellationToken);

    /// <summary>Schedules one device at an existing step (a device that joined a followed group). False when it was in the wave already.</summary>
    Task<bool> AddWaveDeviceAtStepAsync(string wave, string device, int step, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>Records the outcome a device reported (<c>ok</c> or <c>failed</c>).</summary>
    Task RecordResultAsync(string wave, string device, string result, string? detail, DateTimeOffset at, CancellationToken cancellationToken);
}
