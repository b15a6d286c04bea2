using System.Buffers;
using System.Runtime.InteropServices;

namespace OtaServer.OSTree.StaticDeltas;

/// <summary>Integrity check stored in an .xz stream (values are liblzma's <c>lzma_check</c>).</summary>
public enum XzCheck
{
    None = 0,
    Crc32 = 1,
    Crc64 = 4,
    Sha256 = 10,
}

/// <summary>
/// Options for <see cref="XzCompressor"/>. The defaults match <c>ostree static-delta generate</c>
/// (preset 8, CRC64) except for threading.
/// </summary>
public sealed record XzOptions
{
    /// <summary>liblzma preset level 0–9 (ostree uses 8: 32 MiB dictionary).</summary>
    public int Preset { get; init; } = 8;

    /// <summary>Adds <c>LZMA_PRESET_EXTREME</c>: slightly smaller output for much more CPU time.</summary>
    public bool Extreme { get; init; }

    public XzCheck Check { get; init; } = XzCheck.Crc64;

    /// <summary>
    /// Encoder threads. 1 (or less) uses <c>lzma_easy_encoder</c>: a single block, the best ratio,
    /// byte-identical to <c>xz -8</c> / ostree. More than 1 uses <c>lzma_stream_encoder_mt</c>, which
    /// cuts the input into independent blocks of <see cref="BlockSize"/> bytes compressed in parallel
    /// (each block restarts the dictionary, so the ratio drops a little); input smaller than one
    /// block is still compressed by one thread.
    /// </summary>
    public int Threads { get; init; } = Environment.ProcessorCount;

    /// <summary>
    /// Uncompressed size of each block in multi-threaded mode; 0 = liblzma's default of 3 × the
    /// dictionary size (96 MiB at preset 8, i.e. no parallelism for parts under 96 MiB).
    /// Smaller blocks give more parallelism and a slightly worse ratio. Ignored when single-threaded.
    /// </summary>
    public long BlockSize { get; init; }

    public static XzOptions Default { get; } = new();

    /// <summary>Single block, single thread: the ratio ostree gets.</summary>
    public static XzOptions SingleThreaded { get; } = new() { Threads = 1 };

    internal void Validate()
    {
        if (Preset is < 0 or > 9)
        {
            throw new ArgumentOutOfRangeException(nameof(Preset), Preset, "xz preset must be between 0 and 9.");
        }

        if (BlockSize < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(BlockSize), BlockSize, "Block size must be 0 (default) or positive.");
        }

        if (!Enum.IsDefined(Check))
        {
            throw new ArgumentOutOfRangeException(nameof(Check), Check, "Unknown xz check type.");
        }
    }
}

/// <summary>An error reported by liblzma, with its <c>lzma_ret</c> code.</summary>
public sealed class XzException : IOException
{
    public XzException(LzmaResult result, string message)
        : base($"{message} (liblzma: {result}: {Describe(result)})")
    {
        Result = result;
    }

    public XzException(string message)
        : base(message)
    {
        Result = LzmaResult.DataError;
    }

    public LzmaResult Result { get; }

    internal static string Describe(LzmaResult result) => result switch
    {
        LzmaResult.MemError => "cannot allocate memory",
        LzmaResult.MemLimitError => "memory usage limit reached",
        LzmaResult.FormatError => "input is not in the .xz format",
        LzmaResult.OptionsError => "unsupported or invalid compression options",
        LzmaResult.DataError => "compressed data is corrupt",
        LzmaResult.BufError => "compressed data is truncated or no progress is possible",
        LzmaResult.UnsupportedCheck => "integrity check type not supported by this liblzma",
        LzmaResult.ProgError => "programming error (invalid arguments to liblzma)",
        _ => "unexpected return code",
    };
}

/// <summary>
/// One liblzma coder (<c>lzma_stream</c> in native memory). Not thread-safe; one per operation.
/// </summary>
internal sealed unsafe class LzmaCoder : IDisposable
{
    private LibLzma.LzmaStream* _stream;

    private LzmaCoder()
    {
        _stream = (LibLzma.LzmaStream*)NativeMemory.AllocZeroed((nuint)sizeof(LibLzma.LzmaStream));
    }

    public static LzmaCoder CreateEncoder(XzOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var coder = new LzmaCoder();
        var preset = (uint)options.Preset | (options.Extreme ? LibLzma.PresetExtreme : 0u);
        LzmaResult result;
        if (options.Threads <= 1)
        {
            result = LibLzma.EasyEncoder(coder._stream, preset, (int)options.Check);
        }
        else
        {
            var mt = default(LibLzma.LzmaMt);
            mt.Threads = (uint)options.Threads;
            mt.BlockSize = (ulong)options.BlockSize;
            mt.Preset = preset;
            mt.Check = (int)options.Check;
            result = LibLzma.StreamEncoderMt(coder._stream, &mt);
        }

        if (result != LzmaResult.Ok)
        {
            coder.Dispose();
            throw new XzException(result, $"Cannot initialise the xz encoder (preset {options.Preset}, threads {options.Threads}, check {options.Check})");
        }

        return coder;
    }

    public static LzmaCoder CreateDecoder()
    {
        var coder = new LzmaCoder();
        // No memory limit and no LZMA_CONCATENATED: exactly what libostree does.
        var result = LibLzma.StreamDecoder(coder._stream, ulong.MaxValue, 0);
        if (result != LzmaResult.Ok)
        {
            coder.Dispose();
            throw new XzException(result, "Cannot initialise the xz decoder");
        }

        return coder;
    }

    /// <summary>One <c>lzma_code</c> call. Returns Ok, StreamEnd or an error code (not thrown).</summary>
    public LzmaResult Step(ReadOnlySpan<byte> input, Span<byte> output, bool finish, out int consumed, out int produced)
    {
        ObjectDisposedException.ThrowIf(_stream == null, this);
        return LibLzma.Step(_stream, input, output, finish, out consumed, out produced);
    }

    public void Dispose()
    {
        if (_stream != null)
        {
            LibLzma.End(_stream);
            NativeMemory.Free(_stream);
            _stream = null;
        }
    }
}

/// <summary>Shared read/code/write loops (buffers of <see cref="BufferSize"/> bytes: memory stays bounded).</summary>
internal static class XzPump
{
    public const int BufferSize = 1 << 20;

    public static void Run(LzmaCoder coder, Stream input, Stream output, bool decoding, CancellationToken ct)
    {
        var inBuf = ArrayPool<byte>.Shared.Rent(BufferSize);
        var outBuf = ArrayPool<byte>.Shared.Rent(BufferSize);
        try
        {
            int inStart = 0, inLen = 0;
            var eof = false;
            while (true)
            {
                ct.ThrowIfCancellationRequested();
                if (inLen == 0 && !eof)
                {
                    inStart = 0;
                    inLen = input.Read(inBuf, 0, BufferSize);
                    eof = inLen == 0;
                }

                var result = coder.Step(inBuf.AsSpan(inStart, inLen), outBuf.AsSpan(0, BufferSize), eof, out var consumed, out var produced);
                inStart += consumed;
                inLen -= consumed;
                if (produced > 0)
                {
                    output.Write(outBuf, 0, produced);
                }

                if (result == LzmaResult.StreamEnd)
                {
                    if (decoding && (inLen > 0 || input.Read(inBuf, 0, 1) > 0))
                    {
                        throw new XzException("Unexpected data after the end of the xz stream (only a single stream is allowed).");
                    }

                    return;
                }

                ThrowIfError(result, decoding);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(inBuf);
            ArrayPool<byte>.Shared.Return(outBuf);
        }
    }

    public static async Task RunAsync(LzmaCoder coder, Stream input, Stream output, bool decoding, CancellationToken ct)
    {
        var inBuf = ArrayPool<byte>.Shared.Rent(BufferSize);
        var outBuf = ArrayPool<byte>.Shared.Rent(BufferSize);
        try
        {
            int inStart = 0, inLen = 0;
            var eof = false;
            while (true)
            {
                ct.ThrowIfCancellationRequested();
                if (inLen == 0 && !eof)
                {
                    inStart = 0;
                    inLen = await input.ReadAsync(inBuf.AsMemory(0, BufferSize), ct).ConfigureAwait(false);
                    eof = inLen == 0;
                }

                var result = coder.Step(inBuf.AsSpan(inStart, inLen), outBuf.AsSpan(0, BufferSize), eof, out var consumed, out var produced);
                inStart += consumed;
                inLen -= consumed;
                if (produced > 0)
                {
                    await output.WriteAsync(outBuf.AsMemory(0, produced), ct).ConfigureAwait(false);
                }

                if (result == LzmaResult.StreamEnd)
                {
                    if (decoding && (inLen > 0 || await input.ReadAsync(inBuf.AsMemory(0, 1), ct).ConfigureAwait(false) > 0))
                    {
                        throw new XzException("Unexpected data after the end of the xz stream (only a single stream is allowed).");
                    }

                    return;
                }

                ThrowIfError(result, decoding);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(inBuf);
            ArrayPool<byte>.Shared.Return(outBuf);
        }
    }

    /// <summary>Whole input in memory: fed in one piece with LZMA_FINISH.</summary>
    public static void RunSpan(LzmaCoder coder, ReadOnlySpan<byte> input, Stream output, bool decoding)
    {
        var outBuf = ArrayPool<byte>.Shared.Rent(BufferSize);
        try
        {
            while (true)
            {
                var result = coder.Step(input, outBuf.AsSpan(0, BufferSize), finish: true, out var consumed, out var produced);
                input = input[consumed..];
                if (produced > 0)
                {
                    output.Write(outBuf, 0, produced);
                }

                if (result == LzmaResult.StreamEnd)
                {
                    if (decoding && !input.IsEmpty)
                    {
                        throw new XzException("Unexpected data after the end of the xz stream (only a single stream is allowed).");
                    }

                    return;
                }

                ThrowIfError(result, decoding);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(outBuf);
        }
    }

    private static void ThrowIfError(LzmaResult result, bool decoding)
    {
        if (result == LzmaResult.Ok)
        {
            return;
        }

        if (decoding && result == LzmaResult.BufError)
        {
            throw new XzException(result, "The xz stream is truncated");
        }

        throw new XzException(result, decoding ? "xz decompression failed" : "xz compression failed");
    }
}

/// <summary>Compresses into a single standard .xz stream (LZMA2) with the system liblzma. Thread-safe.</summary>
public static class XzCompressor
{
    public static byte[] Compress(ReadOnlySpan<byte> data, XzOptions? options = null)
    {
        using var output = new MemoryStream(Math.Max(64, data.Length / 4));
        Compress(data, output, options);
        return output.ToArray();
    }

    public static void Compress(ReadOnlySpan<byte> data, Stream output, XzOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(output);
        using var coder = LzmaCoder.CreateEncoder(options ?? XzOptions.Default);
        XzPump.RunSpan(coder, data, output, decoding: false);
    }

    /// <summary>Streams <paramref name="input"/> to its end into <paramref name="output"/>; memory use is the encoder's plus 2 MiB.</summary>
    public static void Compress(Stream input, Stream output, XzOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(output);
        using var coder = LzmaCoder.CreateEncoder(options ?? XzOptions.Default);
        XzPump.Run(coder, input, output, decoding: false, cancellationToken);
    }

    public static async Task CompressAsync(Stream input, Stream output, XzOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(output);
        using var coder = LzmaCoder.CreateEncoder(options ?? XzOptions.Default);
        await XzPump.RunAsync(coder, input, output, decoding: false, cancellationToken).ConfigureAwait(false);
    }
}

/// <summary>
/// Decodes exactly one .xz stream (any check type, no memory limit, trailing bytes rejected) —
/// the same decoder set-up libostree uses for delta parts. Thread-safe.
/// </summary>
public static class XzDecompressor
{
    public static byte[] Decompress(ReadOnlySpan<byte> xz)
    {
        using var output = new MemoryStream((int)Math.Clamp(xz.Length * 3L, 64, 1L << 28));
        Decompress(xz, output);
        return output.ToArray();
    }

    public static void Decompress(ReadOnlySpan<byte> xz, Stream output)
    {
        ArgumentNullException.ThrowIfNull(output);
        using var coder = LzmaCoder.CreateDecoder();
        XzPump.RunSpan(coder, xz, output, decoding: true);
    }

    public static void Decompress(Stream input, Stream output, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(output);
        using var coder = LzmaCoder.CreateDecoder();
        XzPump.Run(coder, input, output, decoding: true, cancellationToken);
    }

    public static async Task DecompressAsync(Stream input, Stream output, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(output);
        using var coder = LzmaCoder.CreateDecoder();
        await XzPump.RunAsync(coder, input, output, decoding: true, cancellationToken).ConfigureAwait(false);
    }
}
