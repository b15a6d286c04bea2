using OtaServer.Store;
using OtaServer.Targets;

namespace OtaServer.Devices;

/// <summary>
/// What a rollout decides at check-in (implemented by the waves feature, which sits above devices): the target a device
/// of a tag may have now, given the tag's newest target.
/// </summary>
internal interface IRolloutPolicy
{
    /// <summary>The target to offer <paramref name="device"/> (the tag's own, one a wave holds it at, or null for none).</summary>
    ValueTask<Target?> ApplyAsync(string device, CheckinRequest request, Target? tagTarget, TargetSnapshot targets, CancellationToken cancellationToken);
}
