using System.Buffers;
using System.Security.Cryptography;

namespace OtaServer.OSTree.StaticDeltas;

/// <summary>One opcode of an encoded object, with payload offsets relative to the object's own payload.</summary>
internal readonly record struct DeltaOp(DeltaOpCode Code, long Arg1 = 0, long Arg2 = 0);

internal enum DeltaOpCode : byte
{
    /// <summary><c>S</c> for metadata: (size, payload offset).</summary>
    SpliceMetadata,

    /// <summary><c>S</c> for content: mode/xattr of the object, then (size, payload offset).</summary>
    SpliceContent,

    /// <summary><c>o</c>: mode/xattr of the object, then (size).</summary>
    Open,

    /// <summary><c>w</c> from the payload: (length, payload offset).</summary>
    WritePayload,

    /// <summary><c>w</c> from the read source: (length, source offset).</summary>
    WriteSource,

    /// <summary><c>r</c>: (payload offset of the 32-byte source checksum).</summary>
    SetReadSource,

    /// <summary><c>R</c>.</summary>
    UnsetReadSource,

    /// <summary><c>c</c>.</summary>
    Close,

    /// <summary><c>B</c>: (payload offset, length).</summary>
    BsPatch,
}

/// <summary>A new object turned into payload bytes + opcodes, ready to be appended to a part.</summary>
internal sealed class EncodedObject
{
    public required ObjectName Name { get; init; }

    public required DeltaStrategy Strategy { get; init; }

    /// <summary>Content objects: uid/gid/mode/xattrs for the mode and xattr tables.</summary>
    public FileHeader? Header { get; init; }

    /// <summary>The object's payload segments, concatenated in order.</summary>
    public IReadOnlyList<ReadOnlyMemory<byte>> Payload { get; init; } = [];

    public IReadOnlyList<DeltaOp> Ops { get; init; } = [];

    /// <summary>The part header's usize contribution (metadata size, regular file size, 0 for symlinks).</summary>
    public long USize { get; init; }

    /// <summary>Size counted against the part limit before placing (ostree: content size for plain objects, 0 for diffs).</summary>
    public long PlacementSize { get; init; }

    /// <summary>Set for <see cref="DeltaStrategy.Fallback"/>: the object's stored <c>.filez</c> size and content size.</summary>
    public ContentInfo? FallbackInfo { get; init; }
}

/// <summary>A finished part file.</summary>
internal sealed record DeltaPartHeader(int Index, Checksum Checksum, long Size, long USize, long PayloadSize, byte[] Objects);

/// <summary>
/// Accumulates one part: mode table, xattr table, payload and opcodes (ostree-format.md §6.6),
/// and the object list of its header in op order.
/// </summary>
internal sealed class DeltaPartBuilder(int index)
{
    private readonly List<ReadOnlyMemory<byte>> _payload = [];
    private long _payloadLength;
    private readonly ArrayBufferWriter<byte> _ops = new(4 * 1024);
    private readonly List<(uint Uid, uint Gid, uint Mode)> _modes = [];
    private readonly Dictionary<(uint, uint, uint), int> _modeIndex = [];
    private readonly List<IReadOnlyList<Xattr>> _xattrs = [];
    private readonly Dictionary<string, int> _xattrIndex = new(StringComparer.Ordinal);
    private readonly List<ObjectName> _objects = [];

    public int Index { get; } = index;

    public int ObjectCount => _objects.Count;

    public long USize { get; private set; }

    /// <summary>ostree's size estimate of a part under construction: payload + operations.</summary>
    public long SizeEstimate => _payloadLength + _ops.WrittenCount;

    public void Add(EncodedObject obj)
    {
        long payloadBase = _payloadLength;
        foreach (var segment in obj.Payload)
        {
            if (segment.Length == 0)
                continue;
            _payload.Add(segment);
            _payloadLength += segment.Length;
        }

        _objects.Add(obj.Name);
        USize += obj.USize;
        foreach (var op in obj.Ops)
        {
            switch (op.Code)
            {
                case DeltaOpCode.SpliceMetadata:
                    WriteOp('S', op.Arg1, payloadBase + op.Arg2);
                    break;
                case DeltaOpCode.SpliceContent:
                    WriteOp('S', ModeIndex(obj.Header!), XattrIndex(obj.Header!), op.Arg1, payloadBase + op.Arg2);
                    break;
                case DeltaOpCode.Open:
                    WriteOp('o', ModeIndex(obj.Header!), XattrIndex(obj.Header!), op.Arg1);
                    break;
                case DeltaOpCode.WritePayload:
                    WriteOp('w', op.Arg1, payloadBase + op.Arg2);
                    break;
                case DeltaOpCode.WriteSource:
                    WriteOp('w', op.Arg1, op.Arg2);
                    break;
                case DeltaOpCode.SetReadSource:
                    WriteOp('r', payloadBase + op.Arg1);
                    break;
                case DeltaOpCode.UnsetReadSource:
                    WriteOp('R');
                    break;
                case DeltaOpCode.Close:
                    WriteOp('c');
                    break;
                case DeltaOpCode.BsPatch:
                    WriteOp('B', payloadBase + op.Arg1, op.Arg2);
                    break;
                default:
                    throw new InvalidOperationException($"Unknown delta op {op.Code}.");
            }
        }
    }

    /// <summary>
    /// Streams the payload variant <c>(a(uuu)aa(ayay)ayay)</c> (normal form, uncompressed) to
    /// <paramref name="sink"/> without assembling it: the object bytes are written from their own buffers.
    /// </summary>
    internal long WritePayload(Action<ReadOnlySpan<byte>> sink)
    {
        var modes = GVariant.Array("(uuu)", _modes.Select(m => GVariant.Tuple(
            GVariant.UInt32BigEndian(m.Uid), GVariant.UInt32BigEndian(m.Gid), GVariant.UInt32BigEndian(m.Mode)))).Serialize();
        var xattrs = GVariant.Array("a(ayay)", _xattrs.Select(Xattr.ToGVariant)).Serialize();

        // Tuple members: a(uuu) starts at 0 (alignment 4), aa(ayay) and the two ay have alignment 1, so
        // no padding; the ends of the three non-last members follow as framing offsets, last member first.
        long end0 = modes.Length;
        long end1 = end0 + xattrs.Length;
        long end2 = end1 + _payloadLength;
        long body = end2 + _ops.WrittenCount;
        int width = GVariant.OffsetWidth(body, 3);
        sink(modes);
        sink(xattrs);
        foreach (var segment in _payload)
            sink(segment.Span);
        sink(_ops.WrittenSpan);
        Span<byte> trailer = stackalloc byte[3 * 8];
        int n = 0;
        foreach (var end in (ReadOnlySpan<long>)[end2, end1, end0])
        {
            for (int i = 0; i < width; i++)
                trailer[n++] = (byte)(end >> (8 * i));
        }

        sink(trailer[..n]);
        return body + n;
    }

    /// <summary>The header's object list: 33-byte records (type, checksum) in op order.</summary>
    public byte[] ObjectList()
    {
        var list = new byte[_objects.Count * 33];
        for (int i = 0; i < _objects.Count; i++)
        {
            list[i * 33] = (byte)_objects[i].Type;
            _objects[i].Checksum.CopyTo(list.AsSpan(i * 33 + 1, 32));
        }

        return list;
    }

    /// <summary>Streams the payload through xz (single block, one thread) into part file <c>Index</c>; returns its header.</summary>
    public DeltaPartHeader WriteTo(string directory, int xzPreset, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var objects = ObjectList();
        var path = Path.Combine(directory, Index.ToString(System.Globalization.CultureInfo.InvariantCulture));
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        long size = 0;
        long payloadSize;
        using (var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
        {
            void Output(ReadOnlySpan<byte> bytes)
            {
                file.Write(bytes);
                hash.AppendData(bytes);
                size += bytes.Length;
            }

            Output("x"u8);
            using var xz = new XzPushEncoder(new XzOptions { Preset = xzPreset, Threads = 1 }, Output);
            payloadSize = WritePayload(span =>
            {
                cancellationToken.ThrowIfCancellationRequested();
                xz.Write(span);
            });
            xz.Finish();
        }

        return new DeltaPartHeader(Index, Checksum.FromBytes(hash.GetHashAndReset()), size, USize, payloadSize, objects);
    }

    private int ModeIndex(FileHeader header)
    {
        var key = (header.Uid, header.Gid, header.Mode);
        if (!_modeIndex.TryGetValue(key, out var i))
        {
            i = _modes.Count;
            _modes.Add(key);
            _modeIndex.Add(key, i);
        }

        return i;
    }

    private int XattrIndex(FileHeader header)
    {
        var key = Convert.ToBase64String(Xattr.ToGVariant(header.Xattrs).Serialize());
        if (!_xattrIndex.TryGetValue(key, out var i))
        {
            i = _xattrs.Count;
            _xattrs.Add(header.Xattrs);
            _xattrIndex.Add(key, i);
        }

        return i;
    }

    private void WriteOp(char code, params ReadOnlySpan<long> args)
    {
        var span = _ops.GetSpan(1 + args.Length * 10);
        span[0] = (byte)code;
        int n = 1;
        foreach (var arg in args)
        {
            ulong v = checked((ulong)arg);
            while (v >= 0x80)
            {
                span[n++] = (byte)(v | 0x80);
                v >>= 7;
            }

            span[n++] = (byte)v;
        }

        _ops.Advance(n);
    }
}
