using System.IO.Compression;
using ZstdSharp;

namespace OtaServer.Ingest;

/// <summary>
/// Turns an upload body into a plain tar stream: zstd or gzip announced by <c>Content-Encoding</c>
/// or recognised by their magic bytes, otherwise taken as an uncompressed tar.
/// </summary>
internal static class UploadDecoding
{
    private static ReadOnlySpan<byte> ZstdMagic => [0x28, 0xB5, 0x2F, 0xFD];
    private static ReadOnlySpan<byte> GzipMagic => [0x1F, 0x8B];

    public static async Task<Stream> OpenTarStreamAsync(Stream body, string? contentEncoding, CancellationToken cancellationToken)
    {
        var encoding = contentEncoding?.Trim().ToLowerInvariant();
        switch (encoding)
        {
            case "zstd":
                return new DecompressionStream(body, leaveOpen: true);
            case "gzip" or "x-gzip":
                return new GZipStream(body, CompressionMode.Decompress, leaveOpen: true);
            case null or "" or "identity":
                break;
            default:
                throw new IngestException(StatusCodes.Status415UnsupportedMediaType, "Unsupported Content-Encoding",
                    $"Content-Encoding '{contentEncoding}' is not supported; send zstd, gzip or an uncompressed tar.");
        }

        var head = new byte[4];
        var n = 0;
        while (n < head.Length)
        {
            var r = await body.ReadAsync(head.AsMemory(n), cancellationToken);
            if (r == 0)
                break;
            n += r;
        }
        Stream joined = new PrefixedStream(head.AsMemory(0, n), body);
        if (n >= 4 && head.AsSpan(0, 4).SequenceEqual(ZstdMagic))
            return new DecompressionStream(joined, leaveOpen: false);
        if (n >= 2 && head.AsSpan(0, 2).SequenceEqual(GzipMagic))
            return new GZipStream(joined, CompressionMode.Decompress, leaveOpen: false);
        return joined;
    }

    /// <summary>A read-only stream that yields <c>prefix</c> and then the rest of <c>inner</c>.</summary>
    private sealed class PrefixedStream(ReadOnlyMemory<byte> prefix, Stream inner) : Stream
    {
        private ReadOnlyMemory<byte> _prefix = prefix;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            if (!_prefix.IsEmpty)
            {
                var n = Math.Min(buffer.Length, _prefix.Length);
                _prefix.Span[..n].CopyTo(buffer);
                _prefix = _prefix[n..];
                return n;
            }
            return inner.Read(buffer);
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (!_prefix.IsEmpty)
            {
                var n = Math.Min(buffer.Length, _prefix.Length);
                _prefix.Span[..n].CopyTo(buffer.Span);
                _prefix = _prefix[n..];
                return ValueTask.FromResult(n);
            }
            return inner.ReadAsync(buffer, cancellationToken);
        }

        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
