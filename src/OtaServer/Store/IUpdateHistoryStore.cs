namespace OtaServer.Store;

/// <summary>One step of a device's update as the device reported it (download-started, downloaded, staged, rebooted, ok, failed, no-space).</summary>
public sealed record DeviceUpdateEntry(long Id, string Device, string Step, long? TargetVersion, string? TargetCommit, long? Bytes, string? Detail, DateTimeOffset ReportedAt);

/// <summary>The per-device update history: append-only, newest last.</summary>
public interface IUpdateHistoryStore
{
    /// <summary>Appends a step. False when there is no such device.</summary>
    Task<bool> AddAsync(string device, string step, long? targetVersion, string? targetCommit, long? bytes, string? detail, DateTimeOffset at, CancellationToken cancellationToken);

    /// <summary>The newest <paramref name="limit"/> steps of a device, oldest first.</summary>
    Task<IReadOnlyList<DeviceUpdateEntry>> ListAsync(string device, int limit, CancellationToken cancellationToken);
}
