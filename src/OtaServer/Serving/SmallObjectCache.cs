using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using Microsoft.Extensions.Options;
using OtaServer.Repositories;

namespace OtaServer.Serving;

/// <summary>
/// Bytes, ETag and Last-Modified of small content-addressed objects (<c>.commit</c>, <c>.dirtree</c>,
/// <c>.dirmeta</c>, small <c>.filez</c>): immutable by name, and a fleet fetches the same ones over and over.
/// A hit allocates nothing and costs no system call; an entry is checked against the disk (one <c>stat</c>) at most once
/// per <see cref="ServingOptions.SmallObjectRecheckInterval"/>, so a pruned object turns 404 within that interval
/// (its bytes stay valid: names are content hashes). Bounded by <see cref="ServingOptions.SmallObjectCacheBytes"/>:
/// when full it starts over.
/// </summary>
internal sealed class SmallObjectCache(IOptions<ServingOptions> options, TimeProvider time)
{
    private readonly ConcurrentDictionary<(string Repository, string Path), Entry> _entries = new();
    private readonly long _budget = options.Value.SmallObjectCacheBytes;
    private readonly long _recheckTicks = (long)(options.Value.SmallObjectRecheckInterval.TotalSeconds * time.TimestampFrequency);
    private long _bytes;

    internal sealed record Entry(Repository Repository, byte[] Content, string ETag, DateTimeOffset LastModified, string LastModifiedHeader)
    {
        /// <summary><see cref="TimeProvider.GetTimestamp"/> when the file was last seen in storage (set by <see cref="Add"/>).</summary>
        internal long CheckedAt;
    }

    public int MaxObjectSize { get; } = options.Value.SmallObjectMaxSize;

    public bool Enabled => _budget > 0;

    public int Count => _entries.Count;

    /// <summary>
    /// The cached object, unless its file has gone from disk (looked at no more than once per recheck interval);
    /// a gone one is dropped from the cache.
    /// </summary>
    public bool TryGet(string repository, string path, [MaybeNullWhen(false)] out Entry entry)
    {
        if (!_entries.TryGetValue((repository, path), out entry))
            return false;
        if (StillPresent(entry, path))
            return true;
        _entries.TryRemove((repository, path), out _);
        entry = null;
        return false;
    }

    public void Add(string repository, string path, Entry entry)
    {
        if (entry.Content.Length > _budget)
            return;
        if (Interlocked.Add(ref _bytes, entry.Content.Length) > _budget)
        {
            _entries.Clear();
            Interlocked.Exchange(ref _bytes, entry.Content.Length);
        }
        entry.CheckedAt = time.GetTimestamp();
        _entries[(repository, path)] = entry;
    }

    private bool StillPresent(Entry entry, string path)
    {
        var now = time.GetTimestamp();
        if (now - Volatile.Read(ref entry.CheckedAt) < _recheckTicks)
            return true;
        if (!entry.Repository.Storage.Exists(path))
            return false;
        Volatile.Write(ref entry.CheckedAt, now);
        return true;
    }
}
