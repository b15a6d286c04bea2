using System.Buffers.Binary;
using System.Numerics;

namespace OtaServer.OSTree.StaticDeltas;

/// <summary>
/// bsdiff in the raw stream form libostree's <c>B</c> opcode applies (mendsley/bsdiff, no header,
/// no compression — see ostree-format.md §6.8). The matching is mendsley's; the suffix array is
/// built with SA-IS (about 4.1 bytes per old byte plus both inputs). Thread-safe (no shared state).
/// </summary>
public static unsafe class BsDiff
{
    private const int WriteBufferSize = 64 * 1024;

    /// <summary>Writes a patch turning <paramref name="oldData"/> into <paramref name="newData"/> to <paramref name="output"/>.</summary>
    public static void CreatePatch(ReadOnlySpan<byte> oldData, ReadOnlySpan<byte> newData, Stream output, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(output);
        var sa = SuffixArray.Build(oldData);
        cancellationToken.ThrowIfCancellationRequested();
        var writer = new PatchWriter(output);
        fixed (byte* oldPtr = oldData)
        fixed (byte* newPtr = newData)
        fixed (int* i = sa)
        {
            Diff(i, oldPtr, oldData.Length, newPtr, newData.Length, ref writer, cancellationToken);
        }

        writer.Flush();
    }

    /// <summary>Convenience form returning the patch bytes.</summary>
    public static byte[] CreatePatch(ReadOnlySpan<byte> oldData, ReadOnlySpan<byte> newData, CancellationToken cancellationToken = default)
    {
        using var output = new MemoryStream();
        CreatePatch(oldData, newData, output, cancellationToken);
        return output.ToArray();
    }

    private static int MatchLength(byte* a, long aLength, byte* b, long bLength)
    {
        var length = (int)Math.Min(aLength, bLength);
        return new ReadOnlySpan<byte>(a, length).CommonPrefixLength(new ReadOnlySpan<byte>(b, length));
    }

    /// <summary>Binary search over the suffix array for the longest match of newPtr[0..newLength) in old.</summary>
    private static int Search(int* sa, byte* old, int oldSize, byte* target, int targetLength, int st, int en, out int pos)
    {
        while (en - st >= 2)
        {
            var x = st + ((en - st) / 2);
            var length = Math.Min(oldSize - sa[x], targetLength);
            var cmp = new ReadOnlySpan<byte>(old + sa[x], length).SequenceCompareTo(new ReadOnlySpan<byte>(target, length));

            // mendsley compares only the common length, so a suffix that is a proper prefix of the
            // target counts as "not smaller" and the search drifts to the shortest such suffix
            // (1-byte matches on long runs of equal bytes: quadratic time). Ordering it as smaller
            // finds the longest match; the patch format is unchanged.
            if (cmp < 0 || (cmp == 0 && oldSize - sa[x] < targetLength))
            {
                st = x;
            }
            else
            {
                en = x;
            }
        }

        var lenSt = MatchLength(old + sa[st], oldSize - sa[st], target, targetLength);
        var lenEn = MatchLength(old + sa[en], oldSize - sa[en], target, targetLength);
        if (lenSt > lenEn)
        {
            pos = sa[st];
            return lenSt;
        }

        pos = sa[en];
        return lenEn;
    }

    private static void Diff(int* sa, byte* old, int oldSize, byte* nw, int newSize, ref PatchWriter writer, CancellationToken ct)
    {
        long scan = 0, len = 0;
        long lastScan = 0, lastPos = 0, lastOffset = 0;
        var pos = 0;
        var checkCounter = 0;

        while (scan < newSize)
        {
            long oldScore = 0;
            long scsc;
            for (scsc = scan += len; scan < newSize; scan++)
            {
                if (++checkCounter == 1 << 14)
                {
                    checkCounter = 0;
                    ct.ThrowIfCancellationRequested();
                }

                len = Search(sa, old, oldSize, nw + scan, (int)(newSize - scan), 0, oldSize, out pos);

                for (; scsc < scan + len; scsc++)
                {
                    if (scsc + lastOffset < oldSize && old[scsc + lastOffset] == nw[scsc])
                    {
                        oldScore++;
                    }
                }

                if ((len == oldScore && len != 0) || len > oldScore + 8)
                {
                    break;
                }

                if (scan + lastOffset < oldSize && old[scan + lastOffset] == nw[scan])
                {
                    oldScore--;
                }
            }

            if (len != oldScore || scan == newSize)
            {
                // Extend the previous match forwards…
                long s = 0, sf = 0, lenF = 0;
                for (long i = 0; lastScan + i < scan && lastPos + i < oldSize;)
                {
                    if (old[lastPos + i] == nw[lastScan + i])
                    {
                        s++;
                    }

                    i++;
                    if ((s * 2) - i > (sf * 2) - lenF)
                    {
                        sf = s;
                        lenF = i;
                    }
                }

                // …and the new match backwards.
                long lenB = 0;
                if (scan < newSize)
                {
                    s = 0;
                    long sb = 0;
                    for (long i = 1; scan >= lastScan + i && pos >= i; i++)
                    {
                        if (old[pos - i] == nw[scan - i])
                        {
                            s++;
                        }

                        if ((s * 2) - i > (sb * 2) - lenB)
                        {
                            sb = s;
                            lenB = i;
                        }
                    }
                }

                // Resolve an overlap between the two extensions at the best split point.
                if (lastScan + lenF > scan - lenB)
                {
                    var overlap = lastScan + lenF - (scan - lenB);
                    s = 0;
                    long ss = 0, lenS = 0;
                    for (long i = 0; i < overlap; i++)
                    {
                        if (nw[lastScan + lenF - overlap + i] == old[lastPos + lenF - overlap + i])
                        {
                            s++;
                        }

                        if (nw[scan - lenB + i] == old[pos - lenB + i])
                        {
                            s--;
                        }

                        if (s > ss)
                        {
                            ss = s;
                            lenS = i + 1;
                        }
                    }

                    lenF += lenS - overlap;
                    lenB -= lenS;
                }

                var extraLength = scan - lenB - (lastScan + lenF);
                writer.WriteControl(lenF, extraLength, pos - lenB - (lastPos + lenF));
                writer.WriteDifference(nw + lastScan, old + lastPos, lenF);
                writer.WriteBytes(nw + lastScan + lenF, extraLength);

                lastScan = scan - lenB;
                lastPos = pos - lenB;
                lastOffset = pos - scan;
            }
        }
    }

    /// <summary>8-byte sign-magnitude little-endian integer (sign in the top bit of the last byte).</summary>
    internal static void WriteOffset(long value, Span<byte> destination)
    {
        var magnitude = value < 0 ? (ulong)-value : (ulong)value;
        BinaryPrimitives.WriteUInt64LittleEndian(destination, magnitude);
        if (value < 0)
        {
            destination[7] |= 0x80;
        }
    }

    internal static long ReadOffset(ReadOnlySpan<byte> source)
    {
        var raw = BinaryPrimitives.ReadUInt64LittleEndian(source);
        var magnitude = (long)(raw & 0x7FFF_FFFF_FFFF_FFFFUL);
        return (raw & 0x8000_0000_0000_0000UL) != 0 ? -magnitude : magnitude;
    }

    private struct PatchWriter
    {
        private readonly Stream _output;
        private readonly byte[] _buffer;
        private int _used;

        public PatchWriter(Stream output)
        {
            _output = output;
            _buffer = new byte[WriteBufferSize];
            _used = 0;
        }

        public void WriteControl(long diffLength, long extraLength, long seek)
        {
            EnsureSpace(24);
            var span = _buffer.AsSpan(_used, 24);
            WriteOffset(diffLength, span);
            WriteOffset(extraLength, span[8..]);
            WriteOffset(seek, span[16..]);
            _used += 24;
        }

        public void WriteDifference(byte* target, byte* source, long length)
        {
            while (length > 0)
            {
                EnsureSpace(1);
                var n = (int)Math.Min(length, _buffer.Length - _used);
                var dst = _buffer.AsSpan(_used, n);
                var i = 0;
                if (Vector.IsHardwareAccelerated)
                {
                    var width = Vector<byte>.Count;
                    for (; i + width <= n; i += width)
                    {
                        var difference = Vector.Subtract(
                            Vector.Load(target + i),
                            Vector.Load(source + i));
                        difference.CopyTo(dst[i..]);
                    }
                }

                for (; i < n; i++)
                {
                    dst[i] = (byte)(target[i] - source[i]);
                }

                _used += n;
                target += n;
                source += n;
                length -= n;
            }
        }

        public void WriteBytes(byte* data, long length)
        {
            while (length > 0)
            {
                EnsureSpace(1);
                var n = (int)Math.Min(length, _buffer.Length - _used);
                new ReadOnlySpan<byte>(data, n).CopyTo(_buffer.AsSpan(_used, n));
                _used += n;
                data += n;
                length -= n;
            }
        }

        public void Flush()
        {
            if (_used > 0)
            {
                _output.Write(_buffer, 0, _used);
                _used = 0;
            }
        }

        private void EnsureSpace(int needed)
        {
            if (_buffer.Length - _used < needed)
            {
                Flush();
            }
        }
    }
}

/// <summary>
/// Applies a raw bsdiff stream (§6.8) as strictly as libostree: ctrl0/ctrl1 must be in [0, INT_MAX],
/// writes never go past the new size, reads never past the patch; in addition, bytes left in the
/// patch after the new data is complete are rejected. Errors are <see cref="InvalidDataException"/>.
/// </summary>
public static class BsPatch
{
    public static void Apply(ReadOnlySpan<byte> oldData, ReadOnlySpan<byte> patch, Span<byte> newData)
    {
        long newSize = newData.Length, oldSize = oldData.Length;
        long newPos = 0, oldPos = 0;
        var p = 0;
        while (newPos < newSize)
        {
            if (patch.Length - p < 24)
            {
                throw new InvalidDataException($"bsdiff patch truncated: control block at offset {p} needs 24 bytes, {patch.Length - p} left.");
            }

            var diffLength = BsDiff.ReadOffset(patch.Slice(p, 8));
            var extraLength = BsDiff.ReadOffset(patch.Slice(p + 8, 8));
            var seek = BsDiff.ReadOffset(patch.Slice(p + 16, 8));
            p += 24;

            if (diffLength < 0 || diffLength > int.MaxValue || extraLength < 0 || extraLength > int.MaxValue)
            {
                throw new InvalidDataException($"bsdiff control block at offset {p - 24} has invalid lengths ({diffLength}, {extraLength}).");
            }

            if (newPos + diffLength > newSize)
            {
                throw new InvalidDataException($"bsdiff diff block ({diffLength} bytes at new offset {newPos}) goes past the new size {newSize}.");
            }

            if (patch.Length - p < diffLength)
            {
                throw new InvalidDataException($"bsdiff patch truncated: diff block of {diffLength} bytes at offset {p}.");
            }

            var diff = patch.Slice(p, (int)diffLength);
            var dest = newData.Slice((int)newPos, (int)diffLength);
            for (var k = 0; k < diff.Length; k++)
            {
                var o = oldPos + k;
                dest[k] = (byte)(diff[k] + (o >= 0 && o < oldSize ? oldData[(int)o] : 0));
            }

            p += (int)diffLength;
            newPos += diffLength;
            oldPos += diffLength;

            if (newPos + extraLength > newSize)
            {
                throw new InvalidDataException($"bsdiff extra block ({extraLength} bytes at new offset {newPos}) goes past the new size {newSize}.");
            }

            if (patch.Length - p < extraLength)
            {
                throw new InvalidDataException($"bsdiff patch truncated: extra block of {extraLength} bytes at offset {p}.");
            }

            patch.Slice(p, (int)extraLength).CopyTo(newData.Slice((int)newPos, (int)extraLength));
            p += (int)extraLength;
            newPos += extraLength;
            oldPos += seek;
        }

        if (p != patch.Length)
        {
            throw new InvalidDataException($"bsdiff patch has {patch.Length - p} unexpected bytes after the new data is complete.");
        }
    }

    public static byte[] Apply(ReadOnlySpan<byte> oldData, ReadOnlySpan<byte> patch, int newSize)
    {
        var result = new byte[newSize];
        Apply(oldData, patch, result);
        return result;
    }
}
