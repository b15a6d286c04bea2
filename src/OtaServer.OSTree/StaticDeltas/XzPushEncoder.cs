using System.Buffers;
using System.Runtime.InteropServices;

namespace OtaServer.OSTree.StaticDeltas;

/// <summary>LZMA2 match-finder settings for delta parts (0 = the preset's value).</summary>
internal readonly record struct XzTuning(int NiceLength, int Depth)
{
    public bool IsDefault => NiceLength == 0 && Depth == 0;
}

/// <summary>
/// Push-style xz encoder: feed spans with <see cref="Write"/>, then <see cref="Finish"/>; output goes to a
/// callback. Single-threaded parts with <see cref="XzTuning"/> use their own <c>lzma_stream_encoder</c>
/// (preset + nice_len/depth); otherwise the shared <see cref="LzmaCoder"/> (easy or multi-threaded).
/// </summary>
internal sealed unsafe partial class XzPushEncoder : IDisposable
{
    public delegate void OutputSink(ReadOnlySpan<byte> bytes);

    private const int BufferSize = 1 << 18;
    private const ulong FilterLzma2 = 0x21;
    private const ulong VliUnknown = ulong.MaxValue;
    private const int LzmaOptionsSize = 256;    // sizeof(lzma_options_lzma) is 112 on x86-64; room to spare
    private const int NiceLenOffset = 36;        // offsetof(lzma_options_lzma, nice_len)
    private const int DepthOffset = 44;          // offsetof(lzma_options_lzma, depth)

    private readonly LzmaCoder? _coder;
    private LibLzma.LzmaStream* _stream;
    private void* _lzmaOptions;
    private readonly OutputSink _output;
    private readonly byte[] _buffer = ArrayPool<byte>.Shared.Rent(BufferSize);

    public XzPushEncoder(XzOptions options, OutputSink output, XzTuning tuning = default)
    {
        _output = output;
        if (options.Threads > 1 || tuning.IsDefault)
        {
            _coder = LzmaCoder.CreateEncoder(options);
            return;
        }

        _stream = (LibLzma.LzmaStream*)NativeMemory.AllocZeroed((nuint)sizeof(LibLzma.LzmaStream));
        _lzmaOptions = NativeMemory.AllocZeroed(LzmaOptionsSize);
        if (LzmaLzmaPreset(_lzmaOptions, (uint)options.Preset | (options.Extreme ? LibLzma.PresetExtreme : 0u)) != 0)
        {
            Dispose();
            throw new XzException($"liblzma rejected preset {options.Preset}.");
        }

        if (tuning.NiceLength > 0)
            *(uint*)((byte*)_lzmaOptions + NiceLenOffset) = (uint)tuning.NiceLength;
        if (tuning.Depth > 0)
            *(uint*)((byte*)_lzmaOptions + DepthOffset) = (uint)tuning.Depth;
        var filters = stackalloc ulong[4];
        filters[0] = FilterLzma2;
        filters[1] = (ulong)_lzmaOptions;
        filters[2] = VliUnknown;
        filters[3] = 0;
        var result = LzmaStreamEncoder(_stream, filters, (int)options.Check);
        if (result != LzmaResult.Ok)
        {
            Dispose();
            throw new XzException(result, $"Cannot initialise the xz encoder (preset {options.Preset}, nice {tuning.NiceLength}, depth {tuning.Depth})");
        }
    }

    public void Write(ReadOnlySpan<byte> input)
    {
        while (!input.IsEmpty)
        {
            var result = Step(input, finish: false, out var consumed, out var produced);
            if (result != LzmaResult.Ok)
                throw new XzException(result, "xz compression failed");
            input = input[consumed..];
            if (produced > 0)
                _output(_buffer.AsSpan(0, produced));
        }
    }

    public void Finish()
    {
        while (true)
        {
            var result = Step([], finish: true, out _, out var produced);
            if (produced > 0)
                _output(_buffer.AsSpan(0, produced));
            if (result == LzmaResult.StreamEnd)
                return;
            if (result != LzmaResult.Ok)
                throw new XzException(result, "xz compression failed");
        }
    }

    private LzmaResult Step(ReadOnlySpan<byte> input, bool finish, out int consumed, out int produced)
    {
        var output = _buffer.AsSpan(0, BufferSize);
        if (_coder is not null)
            return _coder.Step(input, output, finish, out consumed, out produced);
        ObjectDisposedException.ThrowIf(_stream == null, this);
        return LibLzma.Step(_stream, input, output, finish, out consumed, out produced);
    }

    public void Dispose()
    {
        _coder?.Dispose();
        if (_stream != null)
        {
            LibLzma.End(_stream);
            NativeMemory.Free(_stream);
            _stream = null;
        }

        if (_lzmaOptions != null)
        {
            NativeMemory.Free(_lzmaOptions);
            _lzmaOptions = null;
        }

        ArrayPool<byte>.Shared.Return(_buffer);
    }

    [LibraryImport("liblzma.so.5", EntryPoint = "lzma_lzma_preset")]
    private static partial byte LzmaLzmaPreset(void* options, uint preset);

    [LibraryImport("liblzma.so.5", EntryPoint = "lzma_stream_encoder")]
    private static partial LzmaResult LzmaStreamEncoder(LibLzma.LzmaStream* strm, ulong* filters, int check);
}
