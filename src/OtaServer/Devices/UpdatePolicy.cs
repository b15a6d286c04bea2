using System.Collections.Concurrent;
using OtaServer.Store;
using OtaServer.Targets;

namespace OtaServer.Devices;

/// <summary>What check-in tells a device: the target, whether it is an update, and why when something is held back.</summary>
internal sealed record OfferDecision(Target? Target, bool UpdateAvailable, DeviceRollback? Rollback, string? Reason);

/// <summary>
/// The one place that decides what a device is offered. Versions only go up: a device is never offered a version
/// lower than the one it runs, unless an operator ordered a rollback for it (<see cref="OrderRollbackAsync"/>).
/// Rollback orders are kept in memory for the check-in path; every change goes through this class.
/// </summary>
internal sealed class UpdatePolicy(IFleetStore store, IUpdateHistoryStore history, TimeProvider time)
{
    /// <summary>History steps written by the server (the device reports the others).</summary>
    public const string RollbackOrderedStep = "rollback-ordered";
    public const string RollbackWithdrawnStep = "rollback-withdrawn";

    private readonly SemaphoreSlim _load = new(1, 1);
    private volatile ConcurrentDictionary<string, DeviceRollback>? _rollbacks;

    private async ValueTask<ConcurrentDictionary<string, DeviceRollback>> RollbacksAsync(CancellationToken cancellationToken)
    {
        if (_rollbacks is { } loaded)
            return loaded;
        await _load.WaitAsync(cancellationToken);
        try
        {
            if (_rollbacks is { } again)
                return again;
            var all = await store.ListRollbacksAsync(cancellationToken);
            var map = new ConcurrentDictionary<string, DeviceRollback>(all.Select(r => KeyValuePair.Create(r.Device, r)), StringComparer.Ordinal);
            _rollbacks = map;
            return map;
        }
        finally
        {
            _load.Release();
        }
    }

    public async ValueTask<DeviceRollback?> GetRollbackAsync(string device, CancellationToken cancellationToken) =>
        (await RollbacksAsync(cancellationToken)).GetValueOrDefault(device);

    /// <summary>Orders <paramref name="device"/> back to <paramref name="target"/>. False when the device does not exist.</summary>
    public async Task<DeviceRollback?> OrderRollbackAsync(string device, Target target, string? reason, CancellationToken cancellationToken)
    {
        var rollback = new DeviceRollback(device, target.Id, target.Version, target.Commit, reason, time.GetUtcNow(), null);
        var map = await RollbacksAsync(cancellationToken);
        if (!await store.SetRollbackAsync(rollback, cancellationToken))
            return null;
        map[device] = rollback;
        // The operator's order is part of the device's update history, beside the steps the device reports.
        await history.AddAsync(device, RollbackOrderedStep, target.Version, target.Commit, null, reason, rollback.RequestedAt, cancellationToken);
        return rollback;
    }

    /// <summary>Withdraws the device's rollback order (pending or done). False when it had none.</summary>
    public async Task<bool> ClearRollbackAsync(string device, CancellationToken cancellationToken)
    {
        var map = await RollbacksAsync(cancellationToken);
        map.TryRemove(device, out _);
        if (!await store.ClearRollbackAsync(device, cancellationToken))
            return false;
        await history.AddAsync(device, RollbackWithdrawnStep, null, null, null, null, time.GetUtcNow(), cancellationToken);
        return true;
    }

    /// <summary>Drops a deleted device's order from memory (the store cascades).</summary>
    public void Forget(string device) => _rollbacks?.TryRemove(device, out _);

    /// <summary>
    /// Decides what <paramref name="device"/>, running <paramref name="currentCommit"/> (version <paramref name="currentVersion"/>
    /// when known), is offered when the tag and waves say <paramref name="candidate"/>. A pending rollback order wins; otherwise a
    /// candidate lower than the running version is held back and the device keeps what it runs. This is where a rollback
    /// happens, so this is the place to record it in a device's history.
    /// </summary>
    public async ValueTask<OfferDecision> DecideAsync(
        string device, string? hardwareId, string? currentCommit, long? currentVersion, Target? candidate, TargetSnapshot targets, CancellationToken cancellationToken)
    {
        if (await GetRollbackAsync(device, cancellationToken) is { IsPending: true } rollback && targets.ById(rollback.TargetId) is { } back)
        {
            if (string.Equals(currentCommit, back.Commit, StringComparison.Ordinal))
            {
                var done = rollback with { DoneAt = time.GetUtcNow() };
                await store.MarkRollbackDoneAsync(device, done.DoneAt!.Value, cancellationToken);
                (await RollbacksAsync(cancellationToken))[device] = done;
                return new OfferDecision(back, false, done, $"Rolled back to version {back.Version} as an operator ordered.");
            }
            return new OfferDecision(back, true, rollback,
                $"Rollback to version {back.Version} ordered by an operator" + (rollback.Reason is { } why ? $": {why}" : "."));
        }
        var last = await GetRollbackAsync(device, cancellationToken);
        if (candidate is null)
            return new OfferDecision(null, false, last, null);
        if (string.Equals(candidate.Commit, currentCommit, StringComparison.Ordinal))
            return new OfferDecision(candidate, false, last, null);
        if (currentVersion is { } running && candidate.Version < running)
        {
            var keep = currentCommit is null ? null : targets.ForCommit(currentCommit, hardwareId);
            return new OfferDecision(keep, false, last,
                $"Version {candidate.Version} is lower than version {running}, which the device runs: versions only go up unless an operator " +
                $"orders a rollback (POST /api/v1/devices/{device}/rollback, otactl devices rollback {device} {candidate.Version}).");
        }
        return new OfferDecision(candidate, true, last, null);
    }
}
