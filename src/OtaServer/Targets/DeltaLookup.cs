using System.Collections.Concurrent;
using OtaServer.Deltas;

namespace OtaServer.Targets;

/// <summary>
/// <see cref="IDeltaService.Find"/> with a short-lived cache for the check-in hot path. Entries expire
/// after <see cref="Ttl"/>; the static-deltas job invalidates the pairs it generates.
/// </summary>
internal sealed class DeltaLookup(IServiceProvider services, TimeProvider time)
{
    public static readonly TimeSpan Ttl = TimeSpan.FromSeconds(30);

    private readonly ConcurrentDictionary<(string Repo, string? From, string To), (DeltaStats? Stats, long Expires)> _cache = new();
    private IDeltaService? _service;
    private bool _resolved;

    /// <summary>The registered delta service, or null when this build has none.</summary>
    public IDeltaService? Service
    {
        get
        {
            if (!_resolved)
            {
                _service = services.GetService<IDeltaService>();
                _resolved = true;
            }
            return _service;
        }
    }

    public DeltaStats? Find(string repository, string? from, string to)
    {
        var service = Service;
        if (service is null)
            return null;
        var now = time.GetTimestamp();
        var key = (repository, from, to);
        if (_cache.TryGetValue(key, out var hit) && hit.Expires > now)
            return hit.Stats;
        var stats = service.Find(repository, from, to);
        if (_cache.Count > 100_000)
            _cache.Clear();
        _cache[key] = (stats, now + (long)(Ttl.TotalSeconds * time.TimestampFrequency));
        return stats;
    }

    public void Invalidate(string repository, string? from, string to) => _cache.TryRemove((repository, from, to), out _);
}
