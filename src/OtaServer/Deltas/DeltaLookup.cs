using System.Collections.Concurrent;

namespace OtaServer.Deltas;

/// <summary>
/// <see cref="IDeltaService.Find"/> with a short-lived cache for the check-in hot path. Entries expire
/// after <see cref="Ttl"/>; the static-deltas job invalidates the pairs it generates.
/// </summary>
internal sealed class DeltaLookup(IDeltaService service, TimeProvider time)
{
    public static readonly TimeSpan Ttl = TimeSpan.FromSeconds(30);

    private readonly ConcurrentDictionary<(string Repo, string? From, string To), (DeltaStats? Stats, long Expires)> _cache = new();

    public DeltaStats? Find(string repository, string? from, string to)
    {
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
