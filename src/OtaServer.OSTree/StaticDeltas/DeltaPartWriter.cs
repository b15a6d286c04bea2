using System.Security.Cryptography;
using System.Threading.Channels;

namespace OtaServer.OSTree.StaticDeltas;

/// <summary>
/// The mode table <c>a(uuu)</c> and xattr table <c>aa(ayay)</c> shared by every part of a delta: built
/// up front from all new content objects (sorted, deduplicated), so a part can start streaming its
/// payload before its last object is known.
/// </summary>
internal sealed class DeltaTables
{
    private readonly Dictionary<(uint, uint, uint), int> _modeIndex = [];
    private readonly Dictionary<string, int> _xattrIndex = new(StringComparer.Ordinal);

    public DeltaTables(IEnumerable<FileHeader> headers)
    {
        var list = headers.ToList();
        var modes = list.Select(h => (h.Uid, h.Gid, h.Mode)).Distinct().Order().ToList();
        var xattrs = list.Select(h => h.Xattrs).DistinctBy(XattrKey, StringComparer.Ordinal)
            .OrderBy(XattrKey, StringComparer.Ordinal).ToList();
        for (int i = 0; i < modes.Count; i++)
            _modeIndex[modes[i]] = i;
        for (int i = 0; i < xattrs.Count; i++)
            _xattrIndex[XattrKey(xattrs[i])] = i;
        ModeTable = GVariant.Array("(uuu)", modes.Select(m => GVariant.Tuple(
            GVariant.UInt32BigEndian(m.Uid), GVariant.UInt32BigEndian(m.Gid), GVariant.UInt32BigEndian(m.Mode)))).Serialize();
        XattrTable = GVariant.Array("a(ayay)", xattrs.Select(Xattr.ToGVariant)).Serialize();
    }

    /// <summary>Serialized <c>a(uuu)</c> (uid, gid, mode big-endian).</summary>
    public byte[] ModeTable { get; }

    /// <summary>Serialized <c>aa(ayay)</c>.</summary>
    public byte[] XattrTable { get; }

    public int ModeIndex(FileHeader header) => _modeIndex[(header.Uid, header.Gid, header.Mode)];

    public int XattrIndex(FileHeader header) => _xattrIndex[XattrKey(header.Xattrs)];

    private static string XattrKey(IReadOnlyList<Xattr> xattrs) => Convert.ToBase64String(Xattr.ToGVariant(xattrs).Serialize());
}

/// <summary>
/// Writes one part file while it is being filled: object bytes are streamed through xz on a
/// background task as soon as they are added (bounded queue), the opcodes are buffered and written
/// after the payload, then the framing offsets. The payload variant is <c>(a(uuu)aa(ayay)ayay)</c>
/// in normal form (ostree-format.md §6.6); the file is <c>'x'</c> + one xz stream (§6.5).
/// </summary>
internal sealed class DeltaPartWriter
{
    private readonly DeltaTables _tables;
    private readonly List<ObjectName> _objects = [];
    private readonly System.Buffers.ArrayBufferWriter<byte> _ops = new(4 * 1024);
    private readonly Channel<ReadOnlyMemory<byte>> _queue = Channel.CreateUnbounded<ReadOnlyMemory<byte>>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
    private readonly ByteBudget _budget;
    private readonly Task<DeltaPartHeader> _task;
    private readonly XzTuning _tuning;
    private long _payloadLength;

    public DeltaPartWriter(int index, string directory, XzOptions xz, DeltaTables tables, long queueBytes, CancellationToken cancellationToken, XzTuning tuning = default)
    {
        _tuning = tuning;
        Index = index;
        _tables = tables;
        _budget = new ByteBudget(queueBytes);
        _task = Task.Run(() => Run(directory, xz, cancellationToken), CancellationToken.None);
    }

    public int Index { get; }

    public int ObjectCount => _objects.Count;

    /// <summary>Time the writer spent waiting for bytes / compressing them (diagnostics).</summary>
    public long WaitTicks { get; private set; }

    public long CompressTicks { get; private set; }

    public long USize { get; private set; }

    /// <summary>ostree's size estimate of a part under construction: payload + operations.</summary>
    public long SizeEstimate => _payloadLength + _ops.WrittenCount;

    /// <summary>Appends an object (its ops now, its bytes to the compression queue). Single caller at a time.</summary>
    public async ValueTask AddAsync(EncodedObject obj, CancellationToken cancellationToken)
    {
        if (_task.IsFaulted || _task.IsCanceled)
            await _task.ConfigureAwait(false); // surfaces the writer's failure
        long payloadBase = _payloadLength;
        _objects.Add(obj.Name);
        USize += obj.USize;
        foreach (var op in obj.Ops)
            AppendOp(obj, op, payloadBase);
        foreach (var segment in obj.Payload)
        {
            if (segment.Length == 0)
                continue;
            _payloadLength += segment.Length;
            await _budget.AcquireAsync(segment.Length, cancellationToken).ConfigureAwait(false);
            _queue.Writer.TryWrite(segment);
        }
    }

    /// <summary>Ends when the part file is written (after <see cref="CompleteAsync"/>) or the writer failed.</summary>
    public Task<DeltaPartHeader> Completion => _task;

    /// <summary>No more objects: the writer finishes the file and returns its header.</summary>
    public Task<DeltaPartHeader> CompleteAsync()
    {
        _queue.Writer.TryComplete();
        return _task;
    }

    /// <summary>Stops a writer after a failure elsewhere (its task then ends; await it before deleting files).</summary>
    public Task AbortAsync(Exception reason)
    {
        _queue.Writer.TryComplete(reason);
        return _task;
    }

    private async Task<DeltaPartHeader> Run(string directory, XzOptions xzOptions, CancellationToken ct)
    {
        var path = Path.Combine(directory, Index.ToString(System.Globalization.CultureInfo.InvariantCulture));
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        long size = 0;
        long written = 0;
        await using var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16);

        void Output(ReadOnlySpan<byte> bytes)
        {
            file.Write(bytes);
            hash.AppendData(bytes);
            size += bytes.Length;
        }

        Output("x"u8);
        using (var xz = new XzPushEncoder(xzOptions, Output, _tuning))
        {
            xz.Write(_tables.ModeTable);
            xz.Write(_tables.XattrTable);
            try
            {
                long t0 = System.Diagnostics.Stopwatch.GetTimestamp();
                await foreach (var segment in _queue.Reader.ReadAllAsync(ct).ConfigureAwait(false))
                {
                    long t1 = System.Diagnostics.Stopwatch.GetTimestamp();
                    WaitTicks += t1 - t0;
                    xz.Write(segment.Span);
                    written += segment.Length;
                    _budget.Release(segment.Length);
                    t0 = System.Diagnostics.Stopwatch.GetTimestamp();
                    CompressTicks += t0 - t1;
                }
            }
            finally
            {
                _budget.Close();
            }

            // The queue is complete: the ops and the payload length no longer change.
            long end0 = _tables.ModeTable.Length;
            long end1 = end0 + _tables.XattrTable.Length;
            long end2 = end1 + written;
            long body = end2 + _ops.WrittenCount;
            xz.Write(_ops.WrittenSpan);
            xz.Write(FramingOffsets(body, end0, end1, end2));
            xz.Finish();
            ct.ThrowIfCancellationRequested();
            long payloadSize = body + FramingOffsets(body, end0, end1, end2).Length;
            await file.FlushAsync(ct).ConfigureAwait(false);
            return new DeltaPartHeader(Index, Checksum.FromBytes(hash.GetHashAndReset()), size, USize, payloadSize, ObjectList());
        }
    }

    /// <summary>The tuple's framing offsets: ends of members 0–2 (member 3 is last), written last member first.</summary>
    internal static byte[] FramingOffsets(long body, long end0, long end1, long end2)
    {
        int width = GVariant.OffsetWidth(body, 3);
        var trailer = new byte[3 * width];
        int n = 0;
        foreach (var end in (ReadOnlySpan<long>)[end2, end1, end0])
        {
            for (int i = 0; i < width; i++)
                trailer[n++] = (byte)(end >> (8 * i));
        }

        return trailer;
    }

    /// <summary>The header's object list: 33-byte records (type, checksum) in op order.</summary>
    private byte[] ObjectList()
    {
        var list = new byte[_objects.Count * 33];
        for (int i = 0; i < _objects.Count; i++)
        {
            list[i * 33] = (byte)_objects[i].Type;
            _objects[i].Checksum.CopyTo(list.AsSpan(i * 33 + 1, 32));
        }

        return list;
    }

    private void AppendOp(EncodedObject obj, DeltaOp op, long payloadBase)
    {
        switch (op.Code)
        {
            case DeltaOpCode.SpliceMetadata:
                WriteOp('S', op.Arg1, payloadBase + op.Arg2);
                break;
            case DeltaOpCode.SpliceContent:
                WriteOp('S', _tables.ModeIndex(obj.Header!), _tables.XattrIndex(obj.Header!), op.Arg1, payloadBase + op.Arg2);
                break;
            case DeltaOpCode.Open:
                WriteOp('o', _tables.ModeIndex(obj.Header!), _tables.XattrIndex(obj.Header!), op.Arg1);
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

    /// <summary>Bounds the bytes queued for compression (one producer, one consumer).</summary>
    private sealed class ByteBudget(long capacity)
    {
        private readonly Lock _lock = new();
        private readonly SemaphoreSlim _released = new(0);
        private long _used;
        private bool _closed;

        public async ValueTask AcquireAsync(long bytes, CancellationToken ct)
        {
            bytes = Math.Min(bytes, capacity);
            while (true)
            {
                lock (_lock)
                {
                    if (_closed || _used + bytes <= capacity || _used == 0)
                    {
                        _used += bytes;
                        return;
                    }
                }

                await _released.WaitAsync(ct).ConfigureAwait(false);
            }
        }

        public void Release(long bytes)
        {
            lock (_lock)
                _used -= Math.Min(bytes, capacity);
            _released.Release();
        }

        /// <summary>The consumer stopped: never block the producer again.</summary>
        public void Close()
        {
            lock (_lock)
                _closed = true;
            _released.Release();
        }
    }
}
