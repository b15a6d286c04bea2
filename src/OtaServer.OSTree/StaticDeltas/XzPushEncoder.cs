using System.Buffers;

namespace OtaServer.OSTree.StaticDeltas;

/// <summary>Push-style xz encoder: feed spans with <see cref="Write"/>, then <see cref="Finish"/>; output goes to a callback.</summary>
internal sealed class XzPushEncoder : IDisposable
{
    public delegate void OutputSink(ReadOnlySpan<byte> bytes);

    private const int BufferSize = 1 << 18;
    private readonly LzmaCoder _coder;
    private readonly OutputSink _output;
    private readonly byte[] _buffer = ArrayPool<byte>.Shared.Rent(BufferSize);

    public XzPushEncoder(XzOptions options, OutputSink output)
    {
        _coder = LzmaCoder.CreateEncoder(options);
        _output = output;
    }

    public void Write(ReadOnlySpan<byte> input)
    {
        while (!input.IsEmpty)
        {
            var result = _coder.Step(input, _buffer.AsSpan(0, BufferSize), finish: false, out var consumed, out var produced);
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
            var result = _coder.Step([], _buffer.AsSpan(0, BufferSize), finish: true, out _, out var produced);
            if (produced > 0)
                _output(_buffer.AsSpan(0, produced));
            if (result == LzmaResult.StreamEnd)
                return;
            if (result != LzmaResult.Ok)
                throw new XzException(result, "xz compression failed");
        }
    }

    public void Dispose()
    {
        _coder.Dispose();
        ArrayPool<byte>.Shared.Return(_buffer);
    }
}
