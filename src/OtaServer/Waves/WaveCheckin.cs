using OtaServer.Devices;
using OtaServer.Store;
using OtaServer.Targets;

namespace OtaServer.Waves;

/// <summary>
/// Check-in's view of waves: a device scheduled in its tag's open wave gets the wave's version while
/// the wave is Active or Holding (and keeps it once updated); outcomes the device reports are recorded
/// and checked against the wave's health gate.
/// </summary>
internal sealed partial class WaveCheckin(WaveCatalog waves, IWaveStore store, IFleetStore fleet, TimeProvider time, ILogger<WaveCheckin> logger) : IRolloutPolicy
{
    public async ValueTask<Target?> ApplyAsync(string device, CheckinRequest request, Target? tagTarget, TargetSnapshot targets, CancellationToken cancellationToken)
    {
        var snapshot = await waves.GetAsync(cancellationToken);
        var view = snapshot.ForTag(request.Tag!);
        if (view is null)
            return tagTarget;
        var wave = view.Wave;
        var ofWave = WavesEndpoints.TargetsOf(wave, targets);
        var waveTarget = ofWave.FirstOrDefault(t => t.HardwareIds.Contains(request.HardwareId!, StringComparer.Ordinal))
            ?? ofWave.FirstOrDefault(t => t.MatchesHardware(request.HardwareId));
        if (waveTarget is null)
            return tagTarget;
        if (!view.Scheduled.Contains(device))
        {
            var joined = await JoinFollowedGroupAsync(device, view, cancellationToken);
            if (joined is null)
                return tagTarget;
            view = joined;
            wave = view.Wave;
        }

        var now = time.GetUtcNow();
        if (view.Seen.TryAdd(device, true))
            await fleet.TouchDevicesAsync([new(device, now)], cancellationToken);

        var onWave = string.Equals(request.CurrentCommit, waveTarget.Commit, StringComparison.Ordinal);
        string? result = null, detail = null;
        if (request.LastUpdate is { Version: { } v, Result: { } r } report && v == wave.Version)
            (result, detail) = (r, report.Detail);
        else if (onWave)
            result = "ok";
        if (result is not null && !(view.Results.TryGetValue(device, out var known) && known == result))
        {
            await store.RecordResultAsync(wave.Name, device, result, detail, now, cancellationToken);
            view.Results[device] = result;
            if (result == "failed" && wave.Status is WaveStatus.Active or WaveStatus.Holding)
                await CheckHealthAsync(view, cancellationToken);
        }
        if (onWave)
            return waveTarget;
        return wave.Status is WaveStatus.Active or WaveStatus.Holding ? waveTarget : tagTarget;
    }

    /// <summary>
    /// A device that joined a group the wave rolled out whole (<c>rollout --group</c> alone) is scheduled at
    /// that group's step, as fioctl does. Returns the reloaded view, or null when the device stays out.
    /// </summary>
    private async Task<WaveView?> JoinFollowedGroupAsync(string device, WaveView view, CancellationToken cancellationToken)
    {
        if (view.Groups.Count == 0 || view.Wave.Status is not (WaveStatus.Active or WaveStatus.Holding))
            return null;
        if (await fleet.GetDeviceAsync(device, cancellationToken) is not { Group: { } group } || !view.Groups.TryGetValue(group, out var step))
            return null;
        await store.AddWaveDeviceAtStepAsync(view.Wave.Name, device, step, time.GetUtcNow(), cancellationToken);
        LogJoined(logger, device, view.Wave.Name, group);
        return (await waves.ReloadAsync(cancellationToken)).ForTag(view.Wave.Tag) is { } fresh && fresh.Scheduled.Contains(device) ? fresh : null;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Device {Device} joined group {Group} after it was rolled out: scheduled in wave {Wave}")]
    private static partial void LogJoined(ILogger logger, string device, string wave, string group);

    private async Task CheckHealthAsync(WaveView view, CancellationToken cancellationToken)
    {
        var wave = view.Wave;
        var failed = view.Results.Values.Count(r => r == "failed");
        var sample = failed + view.Results.Values.Count(r => r == "ok");
        if (sample < wave.MinSample || (double)failed / sample <= wave.FailureRatio)
            return;
        var reason = $"Health gate: {failed} of {sample} devices reported a failed update ({100.0 * failed / sample:0.#}%), " +
            $"over the {100 * wave.FailureRatio:0.#}% threshold (minimum sample {wave.MinSample}). No more devices get version {wave.Version}; resume to continue.";
        await store.SetWaveStatusAsync(wave.Name, WaveStatus.Paused, reason, null, cancellationToken);
        await waves.ReloadAsync(cancellationToken);
        LogPaused(logger, wave.Name, failed, sample);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Wave {Wave} paused by its health gate: {Failed} of {Sample} updates failed")]
    private static partial void LogPaused(ILogger logger, string wave, int failed, int sample);
}
