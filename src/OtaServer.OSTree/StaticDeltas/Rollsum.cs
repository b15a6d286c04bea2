namespace OtaServer.OSTree.StaticDeltas;

/// <summary>A content-defined chunk: <c>[Offset, Offset + Length)</c> with its zlib CRC-32.</summary>
public readonly record struct RollsumChunk(long Offset, int Length, uint Crc32);

/// <summary>
/// bup-style content-defined chunking exactly as libostree's rollsum (ostree-format.md §8.3):
/// 64-byte window, character offset 31, boundary after a byte where <c>(s2 &amp; 0x1FFF) == 0x1FFF</c>,
/// the rolling state restarting at every chunk start, chunks capped at 32 KiB, and fixed 32 KiB
/// pieces once no boundary is left. Stateless and thread-safe.
/// </summary>
public static class Rollsum
{
    public const int WindowSize = 64;
    public const int CharOffset = 31;
    public const int BlobBits = 13;
    public const int MaxChunkSize = 8192 * 4;

    private const uint BlobMask = (1u << BlobBits) - 1;

    public static IReadOnlyList<RollsumChunk> Chunk(ReadOnlySpan<byte> data)
    {
        var chunks = new List<RollsumChunk>((data.Length / 8192) + 1);
        var start = 0;
        var rollsumEnd = false;

        // libostree rescans from every chunk start. After WindowSize - 1 bytes the rolling state is a
        // function of the last 64 bytes only (plus a constant common to all restarts), so a rescan can
        // only differ from the previous scan within its first WindowSize - 1 bytes: when a boundary
        // was found beyond the 32 KiB cap, remember it and only re-check that prefix. Same chunks as
        // the literal algorithm, without quadratic rescans of long boundary-free regions.
        var knownBoundary = -1;
        while (start < data.Length)
        {
            var remaining = data.Length - start;
            int length;
            if (!rollsumEnd)
            {
                if (knownBoundary - start > WindowSize - 1)
                {
                    length = FindBoundary(data.Slice(start, WindowSize - 1));
                    if (length == 0)
                    {
                        length = knownBoundary - start;
                    }
                }
                else
                {
                    length = FindBoundary(data[start..]);
                }

                knownBoundary = -1;
                if (length == 0)
                {
                    rollsumEnd = true;
                    length = Math.Min(MaxChunkSize, remaining);
                }
                else if (length > MaxChunkSize)
                {
                    knownBoundary = start + length;
                    length = MaxChunkSize;
                }
            }
            else
            {
                length = Math.Min(MaxChunkSize, remaining);
            }

            chunks.Add(new RollsumChunk(start, length, Crc32.Compute(data.Slice(start, length))));
            start += length;
        }

        return chunks;
    }

    /// <summary>bup's <c>bupsplit_find_ofs</c>: length up to and including the first boundary byte, or 0 if none.</summary>
    internal static int FindBoundary(ReadOnlySpan<byte> data)
    {
        Span<byte> window = stackalloc byte[WindowSize];
        window.Clear();
        var s1 = (uint)(WindowSize * CharOffset);
        var s2 = (uint)(WindowSize * (WindowSize - 1) * CharOffset);
        var wofs = 0;
        for (var count = 0; count < data.Length; count++)
        {
            uint add = data[count];
            uint drop = window[wofs];
            s1 += add - drop;
            s2 += s1 - (uint)(WindowSize * (drop + CharOffset));
            window[wofs] = (byte)add;
            wofs = (wofs + 1) & (WindowSize - 1);
            if ((s2 & BlobMask) == BlobMask)
            {
                return count + 1;
            }
        }

        return 0;
    }
}

public enum RollsumRegionKind
{
    /// <summary>Bytes that must be sent (ostree: <c>w len off</c> from the payload).</summary>
    Literal,

    /// <summary>Bytes copied from the source object (ostree: <c>w len srcoff</c> with a read source).</summary>
    Copy,
}

/// <summary>A target range: literal bytes, or a copy of <c>source[SourceOffset, +Length)</c> (SourceOffset is -1 for literals).</summary>
public readonly record struct RollsumRegion(RollsumRegionKind Kind, long TargetOffset, long SourceOffset, long Length);

/// <summary>Outcome of <see cref="RollsumMatcher.Match"/>; <see cref="Regions"/> cover the target exactly, in order.</summary>
public sealed record RollsumMatchResult(IReadOnlyList<RollsumRegion> Regions, int TargetChunks, int MatchedChunks, long MatchedBytes)
{
    /// <summary>Threshold ostree uses to prefer rollsum over bsdiff.</summary>
    public const int AcceptPercent = 50;

    public double MatchedPercent => TargetChunks == 0 ? 0 : 100.0 * MatchedChunks / TargetChunks;

    /// <summary>ostree's rule: <c>matched·100 / total ≥ 50</c> (integer division).</summary>
    public bool IsWorthUsing => TargetChunks > 0 && (long)MatchedChunks * 100 / TargetChunks >= AcceptPercent;
}

/// <summary>
/// rsync-like reuse: target chunks that also occur in the source (same CRC-32 and length, bytes
/// verified) become copies; the rest literals. Adjacent regions of the same kind (copies only when
/// contiguous in the source) are merged. Stateless and thread-safe.
/// </summary>
public static class RollsumMatcher
{
    public static RollsumMatchResult Match(ReadOnlySpan<byte> source, ReadOnlySpan<byte> target)
    {
        var sourceChunks = Rollsum.Chunk(source);
        var targetChunks = Rollsum.Chunk(target);

        // (crc, length) → chain of source chunk indices, in source order.
        var heads = new Dictionary<(uint Crc, int Length), int>(sourceChunks.Count);
        var next = new int[sourceChunks.Count];
        for (var i = sourceChunks.Count - 1; i >= 0; i--)
        {
            var key = (sourceChunks[i].Crc32, sourceChunks[i].Length);
            next[i] = heads.TryGetValue(key, out var head) ? head : -1;
            heads[key] = i;
        }

        var regions = new List<RollsumRegion>();
        var matchedChunks = 0;
        long matchedBytes = 0;
        foreach (var chunk in targetChunks)
        {
            var targetBytes = target.Slice((int)chunk.Offset, chunk.Length);
            long sourceOffset = -1;
            if (heads.TryGetValue((chunk.Crc32, chunk.Length), out var candidate))
            {
                // Prefer the candidate that continues the previous copy, so regions merge.
                var continuation = regions.Count > 0 && regions[^1].Kind == RollsumRegionKind.Copy
                    ? regions[^1].SourceOffset + regions[^1].Length
                    : -1;
                for (var c = candidate; c >= 0; c = next[c])
                {
                    var sourceChunk = sourceChunks[c];
                    if (!source.Slice((int)sourceChunk.Offset, sourceChunk.Length).SequenceEqual(targetBytes))
                    {
                        continue;
                    }

                    if (sourceOffset < 0)
                    {
                        sourceOffset = sourceChunk.Offset;
                    }

                    if (sourceChunk.Offset == continuation)
                    {
                        sourceOffset = sourceChunk.Offset;
                        break;
                    }

                    if (continuation < 0)
                    {
                        break;
                    }
                }
            }

            if (sourceOffset >= 0)
            {
                matchedChunks++;
                matchedBytes += chunk.Length;
                Append(regions, new RollsumRegion(RollsumRegionKind.Copy, chunk.Offset, sourceOffset, chunk.Length));
            }
            else
            {
                Append(regions, new RollsumRegion(RollsumRegionKind.Literal, chunk.Offset, -1, chunk.Length));
            }
        }

        return new RollsumMatchResult(regions, targetChunks.Count, matchedChunks, matchedBytes);
    }

    private static void Append(List<RollsumRegion> regions, RollsumRegion region)
    {
        if (regions.Count > 0)
        {
            var last = regions[^1];
            var mergeable = last.Kind == region.Kind
                && (region.Kind == RollsumRegionKind.Literal || last.SourceOffset + last.Length == region.SourceOffset);
            if (mergeable)
            {
                regions[^1] = last with { Length = last.Length + region.Length };
                return;
            }
        }

        regions.Add(region);
    }
}
