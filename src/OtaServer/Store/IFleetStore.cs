namespace OtaServer.Store;

/// <summary>A numbered version of a repository ref. No hardware ids means "any hardware".</summary>
public sealed record Target(
    long Id,
    string Repository,
    long Version,
    string Ref,
    string Commit,
    IReadOnlyList<string> HardwareIds,
    IReadOnlyList<string> Tags,
    DateTimeOffset CreatedAt)
{
    public bool MatchesHardware(string? hardwareId) =>
        HardwareIds.Count == 0 || hardwareId is null || HardwareIds.Contains(hardwareId, StringComparer.Ordinal);
}

public sealed record NewTarget(
    string Repository,
    long Version,
    string Ref,
    string Commit,
    IReadOnlyList<string> HardwareIds,
    IReadOnlyList<string> Tags,
    DateTimeOffset CreatedAt);

public sealed record Device(
    string Name,
    string? HardwareId,
    string? Tag,
    string? CurrentCommit,
    long? CurrentVersion,
    DateTimeOffset? LastSeen,
    DateTimeOffset CreatedAt,
    string? Group = null);

/// <summary>What a check-in reports; written to the device row.</summary>
public sealed record DeviceState(string? HardwareId, string? Tag, string? CurrentCommit, long? CurrentVersion, DateTimeOffset LastSeen);

/// <summary>
/// An operator's explicit order to move a device to a lower version (the only way a device is offered one).
/// Pending until the device runs <see cref="Commit"/>; then <see cref="DoneAt"/> is set and the usual rules apply again.
/// </summary>
public sealed record DeviceRollback(string Device, long TargetId, long Version, string Commit, string? Reason, DateTimeOffset RequestedAt, DateTimeOffset? DoneAt)
{
    public bool IsPending => DoneAt is null;
}

public sealed record DeviceFilter(string? Tag = null, long? Version = null, string? HardwareId = null, string? Group = null);

public sealed record VersionCount(long? Version, string? HardwareId, int Devices);

public sealed record RegistrationToken(string? Tag, string? HardwareId, int UsesLeft, DateTimeOffset ExpiresAt, DateTimeOffset CreatedAt);

public enum RegistrationOutcome { Registered, UnknownToken, Expired, NameTaken }

/// <summary>Raised when a write would break a uniqueness rule; the message says which.</summary>
public sealed class StoreConflictException(string message) : Exception(message);

/// <summary>Targets and devices. The only seam features use for fleet data (SQLite today).</summary>
public interface IFleetStore
{
    Task<IReadOnlyList<Target>> ListTargetsAsync(CancellationToken cancellationToken);

    /// <summary>Adds a target. Throws <see cref="StoreConflictException"/> when the version already exists for an overlapping hardware id in the repository.</summary>
    Task<Target> AddTargetAsync(NewTarget target, CancellationToken cancellationToken);

    /// <summary>Replaces the tags of each target (by id), atomically.</summary>
    Task SetTargetTagsAsync(IReadOnlyDictionary<long, IReadOnlyList<string>> tagsByTargetId, CancellationToken cancellationToken);

    Task<bool> DeleteTargetAsync(long id, CancellationToken cancellationToken);

    /// <summary>Adds a device with its token's SHA-256. False when the name is taken.</summary>
    Task<bool> AddDeviceAsync(Device device, byte[] tokenHash, CancellationToken cancellationToken);

    Task<string?> FindDeviceNameByTokenHashAsync(byte[] tokenHash, CancellationToken cancellationToken);

    Task<Device?> GetDeviceAsync(string name, CancellationToken cancellationToken);

    Task<IReadOnlyList<Device>> ListDevicesAsync(DeviceFilter filter, CancellationToken cancellationToken);

    /// <summary>Devices following <paramref name="tag"/> (optionally of one hardware id), counted by current version (null = unknown) and hardware id.</summary>
    Task<IReadOnlyList<VersionCount>> CountDevicesByVersionAsync(string tag, string? hardwareId, CancellationToken cancellationToken);

    Task UpdateDeviceStateAsync(string name, DeviceState state, CancellationToken cancellationToken);

    /// <summary>Moves last-seen of many devices forward (never back), in one transaction.</summary>
    Task TouchDevicesAsync(IReadOnlyCollection<KeyValuePair<string, DateTimeOffset>> lastSeen, CancellationToken cancellationToken);

    Task<bool> DeleteDeviceAsync(string name, CancellationToken cancellationToken);

    /// <summary>Puts a device in a group (null: in none). False when there is no such device.</summary>
    Task<bool> SetDeviceGroupAsync(string name, string? group, CancellationToken cancellationToken);

    /// <summary>Sets (replaces) the device's rollback order; false when the device does not exist.</summary>
    Task<bool> SetRollbackAsync(DeviceRollback rollback, CancellationToken cancellationToken);

    /// <summary>Removes the device's rollback order; false when it had none.</summary>
    Task<bool> ClearRollbackAsync(string device, CancellationToken cancellationToken);

    /// <summary>Marks the pending rollback of the device done (the device runs it).</summary>
    Task MarkRollbackDoneAsync(string device, DateTimeOffset at, CancellationToken cancellationToken);

    /// <summary>Every device's rollback order, pending or done.</summary>
    Task<IReadOnlyList<DeviceRollback>> ListRollbacksAsync(CancellationToken cancellationToken);

    Task AddRegistrationTokenAsync(byte[] tokenHash, RegistrationToken token, CancellationToken cancellationToken);

    /// <summary>Consumes one use of a registration token and creates the device, atomically.</summary>
    Task<RegistrationOutcome> RegisterDeviceAsync(byte[] registrationTokenHash, Device device, byte[] deviceTokenHash, CancellationToken cancellationToken);
}
