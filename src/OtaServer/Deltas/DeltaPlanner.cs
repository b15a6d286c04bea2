using OtaServer.Store;
using OtaServer.Targets;

namespace OtaServer.Deltas;

public sealed record PlannedDelta(long From, long To, int Devices, bool Exists, string FromCommit, string ToCommit);

public sealed record OrphanVersion(long Version, int Devices);

public sealed record DeltaPlan(Target To, IReadOnlyList<PlannedDelta> Deltas, IReadOnlyList<OrphanVersion> Orphans, int DevicesOnUnknownVersions);

/// <summary>
/// Which static deltas a target needs: from every lower version that devices following a tag run
/// now (plus explicit versions) to the target. Versions whose target was deleted are orphans: reported, not planned.
/// </summary>
internal sealed class DeltaPlanner(IFleetStore store, TargetCatalog catalog, IDeltaService deltas)
{
    public async Task<DeltaPlan> PlanAsync(Target to, string? byTag, IReadOnlyCollection<long> explicitFrom, string? hardwareId, CancellationToken cancellationToken)
    {
        var snapshot = await catalog.GetAsync(cancellationToken);
        var devices = new SortedDictionary<long, int>();
        var unknown = 0;
        if (byTag is not null)
        {
            foreach (var c in await store.CountDevicesByVersionAsync(byTag, hardwareId, cancellationToken))
            {
                if (c.HardwareId is not null && !to.MatchesHardware(c.HardwareId))
                    continue;
                if (c.Version is null)
                    unknown += c.Devices;
                else if (c.Version < to.Version)
                    devices[c.Version.Value] = devices.GetValueOrDefault(c.Version.Value) + c.Devices;
            }
        }
        foreach (var v in explicitFrom)
            devices.TryAdd(v, 0);

        var planned = new List<PlannedDelta>();
        var orphans = new List<OrphanVersion>();
        foreach (var (version, count) in devices)
        {
            var from = snapshot.WithVersion(version, to.Repository, hardwareId)
                .FirstOrDefault(t => t.HardwareIds.Count == 0 || to.HardwareIds.Count == 0 || t.HardwareIds.Intersect(to.HardwareIds, StringComparer.Ordinal).Any());
            if (from is null)
            {
                orphans.Add(new OrphanVersion(version, count));
                continue;
            }
            if (from.Commit == to.Commit)
                continue;
            var exists = deltas.Find(to.Repository, from.Commit, to.Commit) is not null;
            planned.Add(new PlannedDelta(version, to.Version, count, exists, from.Commit, to.Commit));
        }
        return new DeltaPlan(to, planned, orphans, unknown);
    }
}
