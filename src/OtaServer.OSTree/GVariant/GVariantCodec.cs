using System.Buffers.Binary;
using System.Text;

namespace OtaServer.OSTree;

// Serializer and reader. The serializer always produces normal form (GVariant spec, ostree-format.md §2).
// The reader is strict: anything it cannot interpret (bad framing, bad strings, wrong fixed sizes) is a
// FormatException; IsNormalForm additionally re-serializes and compares (catches padding, offset widths, …).
public sealed partial class GVariant
{
    /// <summary>Maximum nesting depth accepted by the reader (GLib uses 128).</summary>
    public const int MaxDepth = 128;

    /// <summary>Wraps already-serialized normal-form bytes: they are validated (normal form) and then
    /// written verbatim whenever this value is serialized (e.g. a commit spliced into a superblock).</summary>
    public static GVariant FromSerialized(GVariantType type, ReadOnlyMemory<byte> data)
    {
        var parsed = ParseNormalForm(type, data);
        return parsed.WithSerialized(data);
    }

    private GVariant WithSerialized(ReadOnlyMemory<byte> data) => new(Type, _bits, _string, _bytes, _children, data);

    /// <summary>Parses <paramref name="data"/> as <paramref name="type"/>. 'ay' values reference <paramref name="data"/>.</summary>
    /// <exception cref="FormatException">The bytes are not a valid serialization of the type.</exception>
    public static GVariant Parse(GVariantType type, ReadOnlyMemory<byte> data)
    {
        ArgumentNullException.ThrowIfNull(type);
        try
        {
            return ParseCore(type, data, 0);
        }
        catch (ArgumentOutOfRangeException e)
        {
            // Defensive: any slicing outside the data is malformed input, not a caller error.
            throw new FormatException($"Malformed GVariant of type '{type}': {e.Message}", e);
        }
    }

    public static GVariant Parse(string type, ReadOnlyMemory<byte> data) => Parse(GVariantType.Parse(type), data);

    /// <summary>Parses and requires normal form (the bytes are exactly what <see cref="Serialize"/> would produce).</summary>
    /// <exception cref="FormatException">Invalid or not in normal form.</exception>
    public static GVariant ParseNormalForm(GVariantType type, ReadOnlyMemory<byte> data)
    {
        var v = Parse(type, data);
        if (!data.Span.SequenceEqual(v.Serialize()))
            throw new FormatException($"GVariant of type '{type}' ({data.Length} bytes) is not in normal form.");
        return v;
    }

    /// <summary>True if the bytes are a valid serialization of the type in normal form.</summary>
    public static bool IsNormalForm(GVariantType type, ReadOnlyMemory<byte> data)
    {
        try
        {
            ParseNormalForm(type, data);
            return true;
        }
        catch (FormatException)
        {
            return false;
        }
    }

    /// <summary>Serializes in normal form.</summary>
    public byte[] Serialize()
    {
        if (_serialized is { } raw)
            return raw.ToArray();
        var buf = new ByteBuffer();
        Write(buf);
        return buf.ToArray();
    }

    /// <summary>Serializes in normal form to <paramref name="destination"/>.</summary>
    public void WriteTo(Stream destination)
    {
        if (_serialized is { } raw)
        {
            destination.Write(raw.Span);
            return;
        }
        var buf = new ByteBuffer();
        Write(buf);
        destination.Write(buf.Span);
    }

    // ---------------------------------------------------------------- writer

    private void Write(ByteBuffer buf)
    {
        if (_serialized is { } raw)
        {
            buf.Write(raw.Span);
            return;
        }
        switch (Type.Kind)
        {
            case 'y' or 'b':
                buf.WriteLittleEndian(_bits, 1);
                return;
            case 'n' or 'q':
                buf.WriteLittleEndian(_bits, 2);
                return;
            case 'i' or 'u' or 'h':
                buf.WriteLittleEndian(_bits, 4);
                return;
            case 'x' or 't' or 'd':
                buf.WriteLittleEndian(_bits, 8);
                return;
            case 's' or 'o' or 'g':
                buf.WriteUtf8(_string!);
                buf.WriteByte(0);
                return;
            case 'v':
                _children![0].Write(buf);
                buf.WriteByte(0);
                buf.WriteUtf8(_children[0].Type.Text);
                return;
            case 'm':
                if (_children!.Length == 1)
                {
                    _children[0].Write(buf);
                    if (!Type.Element!.IsFixedSize)
                        buf.WriteByte(0);
                }
                return;
            case 'a':
                WriteArray(buf);
                return;
            default:
                WriteTuple(buf);
                return;
        }
    }

    private void WriteArray(ByteBuffer buf)
    {
        if (Type == GVariantType.ByteArray)
        {
            buf.Write(_bytes.Span);
            return;
        }
        var el = Type.Element!;
        if (el.IsFixedSize)
        {
            foreach (var c in _children!)
                c.Write(buf);
            return;
        }
        if (_children!.Length == 0)
            return;
        long start = buf.Length;
        var ends = new long[_children.Length];
        for (int i = 0; i < _children.Length; i++)
        {
            buf.PadTo(start, el.Alignment);
            _children[i].Write(buf);
            ends[i] = buf.Length - start;
        }
        int w = OffsetWidth(buf.Length - start, ends.Length);
        foreach (var e in ends)
            buf.WriteLittleEndian((ulong)e, w);
    }

    private void WriteTuple(ByteBuffer buf)
    {
        long start = buf.Length;
        var members = Type.Members;
        var ends = new List<long>();
        for (int i = 0; i < members.Count; i++)
        {
            buf.PadTo(start, members[i].Alignment);
            _children![i].Write(buf);
            if (!members[i].IsFixedSize && i != members.Count - 1)
                ends.Add(buf.Length - start);
        }
        if (Type.FixedSize is int fs)
        {
            buf.WriteZeros(start + fs - buf.Length);
            return;
        }
        if (ends.Count == 0)
            return;
        int w = OffsetWidth(buf.Length - start, ends.Count);
        for (int i = ends.Count - 1; i >= 0; i--)
            buf.WriteLittleEndian((ulong)ends[i], w);
    }

    /// <summary>Framing offset width for a container with <paramref name="bodySize"/> bytes before its table of <paramref name="count"/> offsets.</summary>
    internal static int OffsetWidth(long bodySize, long count)
    {
        if (count == 0)
            return 0;
        if (bodySize + count <= byte.MaxValue)
            return 1;
        if (bodySize + 2 * count <= ushort.MaxValue)
            return 2;
        if (bodySize + 4 * count <= uint.MaxValue)
            return 4;
        return 8;
    }

    /// <summary>Offset width a reader derives from the total container size.</summary>
    private static int OffsetWidthForTotal(long size) => size switch
    {
        0 => 0,
        <= byte.MaxValue => 1,
        <= ushort.MaxValue => 2,
        <= uint.MaxValue => 4,
        _ => 8,
    };

    // ---------------------------------------------------------------- reader

    private static GVariant ParseCore(GVariantType type, ReadOnlyMemory<byte> data, int depth)
    {
        if (depth > MaxDepth)
            throw new FormatException("GVariant nesting is too deep.");
        var span = data.Span;
        switch (type.Kind)
        {
            case 'y' or 'b' or 'n' or 'q' or 'i' or 'u' or 'h' or 'x' or 't' or 'd':
            {
                int size = type.FixedSize!.Value;
                if (span.Length != size)
                    throw new FormatException($"A '{type}' is {size} bytes, got {span.Length}.");
                ulong bits = ReadLittleEndian(span, size);
                if (type.Kind == 'b' && bits > 1)
                    throw new FormatException($"Boolean byte {bits} is neither 0 nor 1.");
                return new GVariant(type, bits);
            }
            case 's' or 'o' or 'g':
            {
                if (span.Length == 0 || span[^1] != 0)
                    throw new FormatException($"A '{type}' must end with a NUL byte.");
                var body = span[..^1];
                if (body.Contains((byte)0))
                    throw new FormatException($"A '{type}' contains an embedded NUL byte.");
                string s;
                try
                {
                    s = StrictUtf8.GetString(body);
                }
                catch (DecoderFallbackException e)
                {
                    throw new FormatException($"A '{type}' is not valid UTF-8.", e);
                }
                if (type.Kind == 'g')
                    ValidateSignature(s);
                else if (type.Kind == 'o')
                    ValidateObjectPath(s);
                return new GVariant(type, str: s);
            }
            case 'v':
            {
                int sep = span.LastIndexOf((byte)0);
                if (sep < 0)
                    throw new FormatException("A variant has no type separator.");
                string typeText = Encoding.ASCII.GetString(span[(sep + 1)..]);
                if (!GVariantType.TryParse(typeText, out var childType))
                    throw new FormatException($"A variant carries the invalid type '{typeText}'.");
                var child = ParseCore(childType!, data[..sep], depth + 1);
                return new GVariant(type, children: [child]);
            }
            case 'm':
            {
                var el = type.Element!;
                if (span.Length == 0)
                    return new GVariant(type, children: []);
                if (el.IsFixedSize)
                {
                    if (span.Length != el.FixedSize)
                        throw new FormatException($"A '{type}' holds {span.Length} bytes, expected 0 or {el.FixedSize}.");
                    return new GVariant(type, children: [ParseCore(el, data, depth + 1)]);
                }
                if (span[^1] != 0)
                    throw new FormatException($"A non-empty '{type}' must end with a 00 byte.");
                return new GVariant(type, children: [ParseCore(el, data[..^1], depth + 1)]);
            }
            case 'a':
                return ParseArray(type, data, depth);
            default:
                return ParseTuple(type, data, depth);
        }
    }

    private static GVariant ParseArray(GVariantType type, ReadOnlyMemory<byte> data, int depth)
    {
        var el = type.Element!;
        if (type == GVariantType.ByteArray)
            return new GVariant(type, bytes: data);
        if (el.FixedSize is int fs)
        {
            if (data.Length % fs != 0)
                throw new FormatException($"A '{type}' of {data.Length} bytes is not a multiple of the element size {fs}.");
            var items = new GVariant[data.Length / fs];
            for (int i = 0; i < items.Length; i++)
                items[i] = ParseCore(el, data.Slice(i * fs, fs), depth + 1);
            return new GVariant(type, children: items);
        }
        if (data.Length == 0)
            return new GVariant(type, children: []);
        var span = data.Span;
        int w = OffsetWidthForTotal(data.Length);
        if (data.Length < w)
            throw new FormatException($"A '{type}' is too short for its framing offset.");
        ulong lastEnd = ReadLittleEndian(span[^w..], w);
        if (lastEnd > (ulong)(data.Length - w))
            throw new FormatException($"A '{type}' has a framing offset beyond its end.");
        int tableStart = (int)lastEnd;
        int tableLen = data.Length - tableStart;
        if (tableLen % w != 0)
            throw new FormatException($"A '{type}' has a framing table that is not a multiple of {w} bytes.");
        int n = tableLen / w;
        var children = new GVariant[n];
        int prevEnd = 0;
        for (int i = 0; i < n; i++)
        {
            ulong end = ReadLittleEndian(span.Slice(tableStart + i * w, w), w);
            int start = GVariantType.AlignUp(prevEnd, el.Alignment);
            if (end > (ulong)tableStart || (ulong)start > end)
                throw new FormatException($"A '{type}' has inconsistent framing offsets (element {i}).");
            children[i] = ParseCore(el, data[start..(int)end], depth + 1);
            prevEnd = (int)end;
        }
        return new GVariant(type, children: children);
    }

    private static GVariant ParseTuple(GVariantType type, ReadOnlyMemory<byte> data, int depth)
    {
        var members = type.Members;
        var children = new GVariant[members.Count];
        if (type.FixedSize is int fixedSize)
        {
            if (data.Length != fixedSize)
                throw new FormatException($"A '{type}' is {fixedSize} bytes, got {data.Length}.");
            int p = 0;
            for (int i = 0; i < members.Count; i++)
            {
                p = GVariantType.AlignUp(p, members[i].Alignment);
                int s = members[i].FixedSize!.Value;
                children[i] = ParseCore(members[i], data.Slice(p, s), depth + 1);
                p += s;
            }
            return new GVariant(type, children: children);
        }
        var span = data.Span;
        int w = OffsetWidthForTotal(data.Length);
        int nOffsets = 0;
        for (int i = 0; i < members.Count - 1; i++)
        {
            if (!members[i].IsFixedSize)
                nOffsets++;
        }
        long tableStartL = data.Length - (long)nOffsets * w;
        if (tableStartL < 0 || (nOffsets > 0 && w == 0))
            throw new FormatException($"A '{type}' is too short for its framing offsets.");
        int tableStart = (int)tableStartL;
        int pos = 0, offsetIndex = 0;
        for (int i = 0; i < members.Count; i++)
        {
            var m = members[i];
            int start = GVariantType.AlignUp(pos, m.Alignment);
            long end;
            if (m.FixedSize is int ms)
            {
                end = start + ms;
            }
            else if (i == members.Count - 1)
            {
                end = tableStart;
            }
            else
            {
                offsetIndex++;
                ulong e = ReadLittleEndian(span.Slice(data.Length - offsetIndex * w, w), w);
                end = e > int.MaxValue ? long.MaxValue : (long)e;
            }
            if (start > end || end > tableStart)
                throw new FormatException($"A '{type}' has inconsistent framing (member {i}).");
            children[i] = ParseCore(m, data[start..(int)end], depth + 1);
            pos = (int)end;
        }
        return new GVariant(type, children: children);
    }

    private static ulong ReadLittleEndian(ReadOnlySpan<byte> span, int size) => size switch
    {
        1 => span[0],
        2 => BinaryPrimitives.ReadUInt16LittleEndian(span),
        4 => BinaryPrimitives.ReadUInt32LittleEndian(span),
        8 => BinaryPrimitives.ReadUInt64LittleEndian(span),
        _ => throw new ArgumentOutOfRangeException(nameof(size)),
    };

    private static void ValidateSignature(string s)
    {
        int pos = 0;
        while (pos < s.Length)
        {
            if (!GVariantType.TrySkip(s, ref pos))
                throw new FormatException($"'{s}' is not a valid GVariant signature.");
        }
    }

    private static void ValidateObjectPath(string s)
    {
        bool ok = s.Length > 0 && s[0] == '/';
        if (ok && s.Length > 1)
        {
            ok = s[^1] != '/';
            var parts = s[1..].Split('/');
            foreach (var part in parts)
            {
                if (part.Length == 0 || !part.All(c => c is >= 'a' and <= 'z' or >= 'A' and <= 'Z' or >= '0' and <= '9' or '_'))
                    ok = false;
            }
        }
        if (!ok)
            throw new FormatException($"'{s}' is not a valid D-Bus object path.");
    }

    /// <summary>Growable byte buffer used by the serializer.</summary>
    private sealed class ByteBuffer
    {
        private byte[] _data = new byte[256];

        public long Length { get; private set; }

        public ReadOnlySpan<byte> Span => _data.AsSpan(0, (int)Length);

        public byte[] ToArray() => Span.ToArray();

        private Span<byte> Reserve(long count)
        {
            long need = Length + count;
            if (need > System.Array.MaxLength)
                throw new InvalidOperationException("GVariant serialization larger than 2 GiB is not supported.");
            if (need > _data.Length)
            {
                long newSize = Math.Max(need, Math.Min((long)_data.Length * 2, System.Array.MaxLength));
                System.Array.Resize(ref _data, (int)newSize);
            }
            var s = _data.AsSpan((int)Length, (int)count);
            Length = need;
            return s;
        }

        public void Write(ReadOnlySpan<byte> bytes) => bytes.CopyTo(Reserve(bytes.Length));

        public void WriteByte(byte b) => Reserve(1)[0] = b;

        public void WriteZeros(long count)
        {
            if (count > 0)
                Reserve(count).Clear();
        }

        public void PadTo(long containerStart, int alignment)
        {
            long rel = Length - containerStart;
            long pad = ((rel + alignment - 1) & ~(long)(alignment - 1)) - rel;
            WriteZeros(pad);
        }

        public void WriteUtf8(string s)
        {
            int n = Encoding.UTF8.GetByteCount(s);
            Encoding.UTF8.GetBytes(s, Reserve(n));
        }

        public void WriteLittleEndian(ulong value, int size)
        {
            var s = Reserve(size);
            switch (size)
            {
                case 1:
                    s[0] = (byte)value;
                    break;
                case 2:
                    BinaryPrimitives.WriteUInt16LittleEndian(s, (ushort)value);
                    break;
                case 4:
                    BinaryPrimitives.WriteUInt32LittleEndian(s, (uint)value);
                    break;
                default:
                    BinaryPrimitives.WriteUInt64LittleEndian(s, value);
                    break;
            }
        }
    }
}
