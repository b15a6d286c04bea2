using System.Collections.Concurrent;
using OtaServer.Store;

namespace OtaServer.Targets;

/// <summary>
/// All targets in memory for fast answers (check-in: "newest target with tag T for hardware H").
/// Every change to targets goes through a feature service that calls <see cref="ReloadAsync"/> after the write.
/// </summary>
internal sealed class TargetCatalog(IFleetStore store)
{
    private readonly SemaphoreSlim _reload = new(1, 1);
    private volatile TargetSnapshot? _snapshot;

    public ValueTask<TargetSnapshot> GetAsync(CancellationToken cancellationToken) =>
        _snapshot is { } s ? ValueTask.FromResult(s) : new ValueTask<TargetSnapshot>(LoadAsync(force: false, cancellationToken));

    public Task<TargetSnapshot> ReloadAsync(CancellationToken cancellationToken) => LoadAsync(force: true, cancellationToken);

    private async Task<TargetSnapshot> LoadAsync(bool force, CancellationToken cancellationToken)
    {
        await _reload.WaitAsync(cancellationToken);
        try
        {
            if (!force && _snapshot is { } existing)
                return existing;
            var snapshot = new TargetSnapshot(await store.ListTargetsAsync(cancellationToken));
            _snapshot = snapshot;
            return snapshot;
        }
        finally
        {
            _reload.Release();
        }
    }
}

/// <summary>An immutable view of all targets, with memoized lookups.</summary>
internal sealed class TargetSnapshot
{
    private readonly ConcurrentDictionary<(string Tag, string? HardwareId), Target?> _newest = new();
    private readonly Dictionary<string, List<Target>> _byCommit;
    private readonly Dictionary<long, Target> _byId;

    public Target? ById(long id) => _byId.GetValueOrDefault(id);

    public TargetSnapshot(IReadOnlyList<Target> targets)
    {
        All = [.. targets.OrderBy(t => t.Version).ThenBy(t => t.CreatedAt).ThenBy(t => t.Id)];
        _byId = All.ToDictionary(t => t.Id);
        _byCommit = All.GroupBy(t => t.Commit, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.ToList(), StringComparer.Ordinal);
    }

    /// <summary>Oldest version first.</summary>
    public IReadOnlyList<Target> All { get; }

    /// <summary>The newest target carrying <paramref name="tag"/> that fits <paramref name="hardwareId"/>.</summary>
    public Target? NewestFor(string tag, string? hardwareId) =>
        _newest.GetOrAdd((tag, hardwareId), static (key, all) =>
        {
            for (var i = all.Count - 1; i >= 0; i--)
            {
                var t = all[i];
                if (t.Tags.Contains(key.Tag, StringComparer.Ordinal) && t.MatchesHardware(key.HardwareId))
                    return t;
            }
            return null;
        }, All);

    /// <summary>The highest version whose commit is <paramref name="commit"/> (for this hardware), or null.</summary>
    public long? VersionOf(string commit, string? hardwareId)
    {
        if (!_byCommit.TryGetValue(commit, out var list))
            return null;
        long? best = null;
        foreach (var t in list)
        {
            if (t.MatchesHardware(hardwareId) && (best is null || t.Version > best))
                best = t.Version;
        }

        return best;
    }

    /// <summary>The highest-version target whose commit is <paramref name="commit"/> (for this hardware), or null.</summary>
    public Target? ForCommit(string commit, string? hardwareId) =>
        _byCommit.TryGetValue(commit, out var list) ? list.Where(t => t.MatchesHardware(hardwareId)).MaxBy(t => t.Version) : null;

    public IEnumerable<Target> WithVersion(long version, string? repository = null, string? hardwareId = null) =>
        All.Where(t => t.Version == version && (repository is null || t.Repository == repository) && t.MatchesHardware(hardwareId));
}
