using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using OtaServer.Deltas;
using OtaServer.Store;
using OtaServer.Targets;

namespace OtaServer.Devices;

public sealed record CheckinRequest(string? HardwareId, string? Tag, string? CurrentCommit, UpdateReport? LastUpdate = null);

/// <summary>The outcome of the device's last update attempt: result <c>ok</c> or <c>failed</c>.</summary>
public sealed record UpdateReport(long? Version, string? Result, string? Detail = null);

public sealed record CheckinTarget(long Version, string Commit, string Ref, string RepositoryUrl);

/// <summary>
/// <c>downloadBytes</c>: what the device downloads (parts + fallback objects, besides the small superblock);
/// <c>requiredBytes</c>: what it must be able to write (check free space against it); <c>size</c>: an alias of <c>downloadBytes</c>.
/// </summary>
public sealed record CheckinDelta(bool Available, long? From, string? FromCommit, long Size, long DownloadBytes, long RequiredBytes);

/// <summary>An operator's rollback order for the device: <c>pending</c> until the device runs it, then <c>done</c>.</summary>
public sealed record RollbackDto(long Version, string State, string? Reason, DateTimeOffset RequestedAt, DateTimeOffset? DoneAt)
{
    internal static RollbackDto? From(DeviceRollback? r) => r is null ? null : new(r.Version, r.IsPending ? "pending" : "done", r.Reason, r.RequestedAt, r.DoneAt);
}

/// <summary>
/// <c>reason</c> says why nothing (or a lower version) is offered: a version lower than the running one is never offered
/// unless <c>rollback</c> (an operator's order) says so.
/// </summary>
public sealed record CheckinResponse(bool UpdateAvailable, long? CurrentVersion, CheckinTarget? Target, CheckinDelta? Delta,
    RollbackDto? Rollback = null, string? Reason = null);

/// <summary>
/// The check-in hot path: answers from the in-memory target catalog and delta cache. A changed device
/// (hardware id, tag, commit) is written at once; otherwise last-seen is queued for a batched write when
/// the last one is older than <see cref="DevicesOptions.LastSeenWriteInterval"/>.
/// </summary>
internal sealed class CheckinService(
    TargetCatalog catalog,
    DeltaLookup deltas,
    IFleetStore store,
    LastSeenWriter lastSeen,
    IRolloutPolicy waves,
    UpdatePolicy policy,
    IOptions<DevicesOptions> options,
    TimeProvider time)
{
    private readonly ConcurrentDictionary<string, (DeviceState State, long WrittenAt)> _written = new(StringComparer.Ordinal);

    public async Task<CheckinResponse> CheckInAsync(string device, CheckinRequest request, string repositoryBaseUrl, CancellationToken cancellationToken)
    {
        var snapshot = await catalog.GetAsync(cancellationToken);
        var current = request.CurrentCommit is null ? null : snapshot.VersionOf(request.CurrentCommit, request.HardwareId);
        await RecordAsync(device, new DeviceState(request.HardwareId, request.Tag, request.CurrentCommit, current, time.GetUtcNow()), cancellationToken);
        var candidate = await waves.ApplyAsync(device, request, snapshot.NewestFor(request.Tag!, request.HardwareId), snapshot, cancellationToken);
        var decision = await policy.DecideAsync(device, request.HardwareId, request.CurrentCommit, current, candidate, snapshot, cancellationToken);
        var rollback = RollbackDto.From(decision.Rollback);
        if (decision.Target is not { } target)
            return new CheckinResponse(false, current, null, null, rollback, decision.Reason);
        var update = decision.UpdateAvailable;
        CheckinDelta? delta = null;
        if (update)
        {
            var stats = deltas.Find(target.Repository, request.CurrentCommit, target.Commit);
            delta = new CheckinDelta(stats is not null, current, request.CurrentCommit, stats?.DownloadBytes ?? 0, stats?.DownloadBytes ?? 0, stats?.RequiredBytes ?? 0);
        }
        return new CheckinResponse(update, current,
            new CheckinTarget(target.Version, target.Commit, target.Ref, repositoryBaseUrl + target.Repository), delta, rollback, decision.Reason);
    }

    private async Task RecordAsync(string device, DeviceState state, CancellationToken cancellationToken)
    {
        var now = time.GetTimestamp();
        if (_written.TryGetValue(device, out var last) && last.State with { LastSeen = state.LastSeen } == state)
        {
            if (time.GetElapsedTime(last.WrittenAt, now) >= options.Value.LastSeenWriteInterval)
            {
                lastSeen.Enqueue(device, state.LastSeen);
                _written[device] = (state, now);
            }
            return;
        }
        await store.UpdateDeviceStateAsync(device, state, cancellationToken);
        _written[device] = (state, now);
    }

    /// <summary>Drops what is remembered about a device (deleted or re-created).</summary>
    public void Forget(string device)
    {
        _written.TryRemove(device, out _);
        lastSeen.Forget(device);
    }
}
