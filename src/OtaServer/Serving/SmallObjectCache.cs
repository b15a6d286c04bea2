using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using Microsoft.Extensions.Options;

namespace OtaServer.Serving;

/// <summary>
/// Bytes, ETag and Last-Modified of small content-addressed objects (<c>.commit</c>, <c>.dirtree</c>,
/// <c>.dirmeta</c>, small <c>.filez</c>): immutable by name, and a fleet fetches the same ones over and over.
/// A hit costs one <c>stat</c> (so a pruned object is 404 at once) instead of open/fstat/read/close and
/// allocates nothing. Bounded by <see cref="ServingOptions.SmallObjectCacheBytes"/>: when full it starts over.
/// </summary>
internal sealed class SmallObjectCache(IOptions<ServingOptions> options)
{
    private readonly ConcurrentDictionary<(string Repository, string Path), Entry> _entries = new();
    private readonly long _budget = options.Value.SmallObjectCacheBytes;
    private long _bytes;

    internal sealed record Entry(string FullPath, byte[] Content, string ETag, DateTimeOffset LastModified, string LastModifiedHeader);

    public int MaxObjectSize { get; } = options.Value.SmallObjectMaxSize;

    public bool Enabled => _budget > 0;

    public int Count => _entries.Count;

    public bool TryGet(string repository, string path, [MaybeNullWhen(false)] out Entry entry) =>
        _entries.TryGetValue((repository, path), out entry);

    public void Add(string repository, string path, Entry entry)
    {
        if (entry.Content.Length > _budget)
            return;
        if (Interlocked.Add(ref _bytes, entry.Content.Length) > _budget)
        {
            _entries.Clear();
            Interlocked.Exchange(ref _bytes, entry.Content.Length);
        }
        _entries[(repository, path)] = entry;
    }

    public void Remove(string repository, string path) => _entries.TryRemove((repository, path), out _);
}
