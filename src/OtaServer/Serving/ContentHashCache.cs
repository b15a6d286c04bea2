using System.Buffers;
using System.Collections.Concurrent;
using System.Security.Cryptography;
using Microsoft.Extensions.Options;
using OtaServer.Repositories.Storage;

namespace OtaServer.Serving;

/// <summary>
/// Strong ETags derived from content: SHA-256 of the bytes, cached per path and revalidated by
/// (length, last-write time), so a file that is replaced is hashed again. Used for delta superblocks and
/// parts (immutable: hashed once) and for mutable files too large to hash on every request.
/// Bounded: when full, the cache is cleared (entries are cheap to recompute, and few files are this big).
/// </summary>
internal sealed class ContentHashCache(IOptions<ServingOptions> options)
{
    private const int BufferSize = 128 * 1024;

    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private readonly int _maxEntries = options.Value.MaxCachedHashes;

    private sealed record Entry(long Length, long LastWriteTicks, string ETag);

    public int Count => _entries.Count;

    /// <summary>The ETag of the open file <paramref name="handle"/> known as <paramref name="key"/>, hashing it (through the same handle) when not cached.</summary>
    public string GetETag(string key, IStoredFile handle, long length, long lastWriteTicks)
    {
        if (_entries.TryGetValue(key, out var entry) && entry.Length == length && entry.LastWriteTicks == lastWriteTicks)
            return entry.ETag;
        var etag = Hash(handle, length);
        if (_entries.Count >= _maxEntries)
            _entries.Clear();
        _entries[key] = new Entry(length, lastWriteTicks, etag);
        return etag;
    }

    private static string Hash(IStoredFile handle, long length)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
        try
        {
            long offset = 0;
            while (offset < length)
            {
                var read = handle.ReadAt(buffer.AsSpan(0, (int)Math.Min(BufferSize, length - offset)), offset);
                if (read <= 0)
                    throw new IOException("The file shrank while it was being hashed.");
                sha.AppendData(buffer, 0, read);
                offset += read;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
        Span<byte> digest = stackalloc byte[32];
        sha.GetHashAndReset(digest);
        return FormatETag(digest);
    }

    /// <summary><c>"&lt;64 lowercase hex&gt;"</c> of a SHA-256 digest.</summary>
    public static string HashETag(ReadOnlySpan<byte> content)
    {
        Span<byte> digest = stackalloc byte[32];
        SHA256.HashData(content, digest);
        return FormatETag(digest);
    }

    private static string FormatETag(ReadOnlySpan<byte> digest)
    {
        Span<char> chars = stackalloc char[66];
        chars[0] = '"';
        Convert.TryToHexStringLower(digest, chars[1..], out _);
        chars[65] = '"';
        return new string(chars);
    }

    /// <summary><c>"&lt;object checksum&gt;"</c> taken from <c>objects/XX/&lt;62 hex&gt;.type</c> — free and content-derived.</summary>
    public static string ObjectETag(string relativePath) =>
        string.Create(66, relativePath, static (span, path) =>
        {
            span[0] = '"';
            path.AsSpan(8, 2).CopyTo(span[1..]);
            path.AsSpan(11, 62).CopyTo(span[3..]);
            span[65] = '"';
        });
}
