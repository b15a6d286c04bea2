using System.Collections.Concurrent;
using System.Security.Cryptography;

namespace OtaServer.Repositories;

/// <summary>
/// No torn <c>summary</c>/<c>summary.sig</c> pair. The client fetches <c>summary.sig</c> first, then <c>summary</c>
/// (on the same keep-alive connection); a ref move in between used to hand it a summary its signature does not
/// cover ("BAD signature"). Each published pair is kept as one generation in memory; when a connection fetched a
/// <c>summary.sig</c>, its next <c>summary</c> is the one of that generation, even if a newer one is on disk.
/// (The 2022.7 client fails on any BAD signature in the file, so one file cannot sign two summaries.)
/// </summary>
public sealed class SummaryPairs(TimeProvider time)
{
    /// <summary>Generations kept per repository.</summary>
    public const int KeptGenerations = 16;

    /// <summary>How long a connection's fetched signature pins its summary.</summary>
    public static readonly TimeSpan PinDuration = TimeSpan.FromMinutes(1);

    private const int MaxPins = 10_000;

    public sealed record Generation(string SignatureHash, byte[] Summary, byte[] Signature, DateTimeOffset Published);

    private readonly ConcurrentDictionary<string, List<Generation>> _generations = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<(string Connection, string Repo), (string Hash, DateTimeOffset At)> _pins = new();

    /// <summary>A new signed pair was written (repository lock held).</summary>
    public void Published(string repository, byte[] summary, byte[] signature)
    {
        var list = _generations.GetOrAdd(repository, _ => []);
        lock (list)
        {
            list.Add(new Generation(Hash(signature), summary, signature, time.GetUtcNow()));
            if (list.Count > KeptGenerations)
                list.RemoveRange(0, list.Count - KeptGenerations);
        }
    }

    /// <summary>The newest generation published by this process, or null (e.g. right after a start: serve the files).</summary>
    public Generation? Latest(string repository)
    {
        if (!_generations.TryGetValue(repository, out var list))
            return null;
        lock (list)
            return list.Count == 0 ? null : list[^1];
    }

    /// <summary>Connection <paramref name="connectionId"/> received <paramref name="generation"/>'s signature.</summary>
    public void SignatureServed(string connectionId, string repository, Generation generation)
    {
        var now = time.GetUtcNow();
        if (_pins.Count >= MaxPins)
        {
            foreach (var (key, pin) in _pins)
            {
                if (now - pin.At > PinDuration)
                    _pins.TryRemove(key, out _);
            }
        }

        _pins[(connectionId, repository)] = (generation.SignatureHash, now);
    }

    /// <summary>The generation whose signature this connection fetched last, if recent and still kept.</summary>
    public Generation? PinnedFor(string connectionId, string repository)
    {
        if (!_pins.TryGetValue((connectionId, repository), out var pin) || time.GetUtcNow() - pin.At > PinDuration)
            return null;
        if (!_generations.TryGetValue(repository, out var list))
            return null;
        lock (list)
            return list.FindLast(g => g.SignatureHash == pin.Hash);
    }

    private static string Hash(byte[] data) => Convert.ToHexString(SHA256.HashData(data));
}
