using System.Buffers;
using System.Buffers.Binary;
using System.IO.Compression;
using System.Security.Cryptography;

namespace OtaServer.OSTree;

/// <summary>
/// Content (file) objects: the checksum (§4.4) and the archive <c>.filez</c> form (§4.5):
/// <c>BE32(len Z) ‖ 00000000 ‖ Z=(tuuuusa(ayay)) ‖ raw-deflate(content)</c>; symlinks have no deflate body.
/// </summary>
public static class ContentObject
{
    /// <summary>Upper bound accepted for the length-prefixed header of a .filez (xattrs can be large, not this large).</summary>
    public const int MaxHeaderSize = 1024 * 1024;

    /// <summary>zlib level ostree uses for .filez bodies.</summary>
    public const int DeflateLevel = 6;

    private const int BufferSize = 81920;

    private static readonly byte[] EmptyDeflate = [0x03, 0x00];

    /// <summary>SHA-256(BE32(len H) ‖ 00000000 ‖ H ‖ content). For symlinks pass an empty content.</summary>
    public static Checksum ComputeChecksum(FileHeader header, ReadOnlySpan<byte> content)
    {
        using var hash = BeginChecksum(header);
        if (!header.IsSymlink)
            hash.AppendData(content);
        return Checksum.FromBytes(hash.GetHashAndReset());
    }

    /// <summary>Checksum of a content object whose file content is read from <paramref name="content"/> (ignored for symlinks).</summary>
    public static Checksum ComputeChecksum(FileHeader header, Stream? content)
    {
        using var hash = BeginChecksum(header);
        if (!header.IsSymlink && content is not null)
        {
            var buf = ArrayPool<byte>.Shared.Rent(BufferSize);
            try
            {
                int n;
                while ((n = content.Read(buf, 0, BufferSize)) > 0)
                    hash.AppendData(buf, 0, n);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buf);
            }
        }
        return Checksum.FromBytes(hash.GetHashAndReset());
    }

    /// <summary>An incremental SHA-256 already fed with the length-prefixed header; append the content and finish.</summary>
    public static IncrementalHash BeginChecksum(FileHeader header)
    {
        var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(FileHeader.LengthPrefixed(header.SerializeContentHeader()));
        return hash;
    }

    /// <summary>The complete .filez bytes for a small file.</summary>
    public static byte[] CreateArchive(FileHeader header, ReadOnlySpan<byte> content)
    {
        using var ms = new MemoryStream();
        using (var input = new MemoryStream(content.ToArray(), writable: false))
            WriteArchive(ms, header, header.IsSymlink ? null : input, header.IsSymlink ? 0 : content.Length);
        return ms.ToArray();
    }

    /// <summary>
    /// Writes a .filez for <paramref name="header"/> with <paramref name="size"/> bytes read from <paramref name="content"/>
    /// (null/ignored for symlinks) and returns the object's checksum.
    /// </summary>
    /// <exception cref="InvalidDataException">The content stream did not hold exactly <paramref name="size"/> bytes.</exception>
    public static Checksum WriteArchive(Stream output, FileHeader header, Stream? content, long size) =>
        WriteArchiveAsync(output, header, content, size, CancellationToken.None, sync: true).GetAwaiter().GetResult();

    /// <inheritdoc cref="WriteArchive"/>
    public static Task<Checksum> WriteArchiveAsync(Stream output, FileHeader header, Stream? content, long size, CancellationToken cancellationToken) =>
        WriteArchiveAsync(output, header, content, size, cancellationToken, sync: false);

    private static async Task<Checksum> WriteArchiveAsync(Stream output, FileHeader header, Stream? content, long size,
        CancellationToken ct, bool sync)
    {
        ArgumentNullException.ThrowIfNull(output);
        ValidateHeaderForWriting(header);
        ArgumentOutOfRangeException.ThrowIfNegative(size);
        bool symlink = header.IsSymlink;
        var prefix = FileHeader.LengthPrefixed(header.SerializeArchiveHeader(symlink ? 0UL : (ulong)size));
        if (sync)
            output.Write(prefix);
        else
            await output.WriteAsync(prefix, ct).ConfigureAwait(false);
        using var hash = BeginChecksum(header);
        if (symlink)
            return Checksum.FromBytes(hash.GetHashAndReset());

        var deflate = new DeflateStream(output, new ZLibCompressionOptions { CompressionLevel = DeflateLevel }, leaveOpen: true);
        await using (deflate.ConfigureAwait(false))
        {
            long total = 0;
            if (content is not null)
            {
                var buf = ArrayPool<byte>.Shared.Rent(BufferSize);
                try
                {
                    while (true)
                    {
                        int n = sync ? content.Read(buf, 0, BufferSize) : await content.ReadAsync(buf.AsMemory(0, BufferSize), ct).ConfigureAwait(false);
                        if (n == 0)
                            break;
                        total += n;
                        if (total > size)
                            throw new InvalidDataException($"Content is longer than the declared {size} bytes.");
                        hash.AppendData(buf, 0, n);
                        if (sync)
                            deflate.Write(buf, 0, n);
                        else
                            await deflate.WriteAsync(buf.AsMemory(0, n), ct).ConfigureAwait(false);
                    }
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(buf);
                }
            }
            if (total != size)
                throw new InvalidDataException($"Content is {total} bytes, declared {size}.");
        }
        if (size == 0)
        {
            // DeflateStream emits nothing when nothing was written; zlib's Z_FINISH on empty input gives an
            // empty final fixed-Huffman block, which is what ostree writes.
            if (sync)
                output.Write(EmptyDeflate);
            else
                await output.WriteAsync(EmptyDeflate, ct).ConfigureAwait(false);
        }
        return Checksum.FromBytes(hash.GetHashAndReset());
    }

    private static void ValidateHeaderForWriting(FileHeader header)
    {
        ArgumentNullException.ThrowIfNull(header);
        if (!header.IsRegularFile && !header.IsSymlink)
            throw new ArgumentException($"Content objects are regular files or symlinks, not mode 0{Convert.ToString(header.Mode, 8)}.", nameof(header));
        if (header.IsSymlink ? header.SymlinkTarget.Length == 0 : header.SymlinkTarget.Length != 0)
            throw new ArgumentException("Symlinks need a target and regular files must not have one.", nameof(header));
    }

    /// <summary>
    /// Reads the length-prefixed header of a .filez; the stream is left at the start of the deflate body.
    /// Returns the header and the declared content size.
    /// </summary>
    /// <exception cref="FormatException">Malformed header.</exception>
    public static (FileHeader Header, ulong Size) ReadArchiveHeader(Stream filez) =>
        ReadArchiveHeaderAsync(filez, CancellationToken.None, sync: true).GetAwaiter().GetResult();

    /// <inheritdoc cref="ReadArchiveHeader"/>
    public static Task<(FileHeader Header, ulong Size)> ReadArchiveHeaderAsync(Stream filez, CancellationToken cancellationToken) =>
        ReadArchiveHeaderAsync(filez, cancellationToken, sync: false);

    private static async Task<(FileHeader, ulong)> ReadArchiveHeaderAsync(Stream filez, CancellationToken ct, bool sync)
    {
        ArgumentNullException.ThrowIfNull(filez);
        var prefix = new byte[8];
        await ReadExactAsync(filez, prefix, ct, sync, "length prefix").ConfigureAwait(false);
        uint len = BinaryPrimitives.ReadUInt32BigEndian(prefix);
        if (BinaryPrimitives.ReadUInt32BigEndian(prefix.AsSpan(4)) != 0)
            throw new FormatException("The 4 bytes after the .filez header length must be zero.");
        if (len > MaxHeaderSize)
            throw new FormatException($"The .filez header length {len} exceeds {MaxHeaderSize} bytes.");
        var z = new byte[len];
        await ReadExactAsync(filez, z, ct, sync, "header").ConfigureAwait(false);
        return FileHeader.ParseArchiveHeader(z);
    }

    private static async Task ReadExactAsync(Stream s, byte[] buf, CancellationToken ct, bool sync, string what)
    {
        try
        {
            if (sync)
                s.ReadExactly(buf);
            else
                await s.ReadExactlyAsync(buf, ct).ConfigureAwait(false);
        }
        catch (EndOfStreamException e)
        {
            throw new FormatException($"The .filez ends inside its {what}.", e);
        }
    }

    /// <summary>Opens a .filez: parses the header and returns a reader whose <see cref="ArchiveContentReader.Content"/> inflates the body.</summary>
    public static ArchiveContentReader OpenArchive(Stream filez, bool leaveOpen = false)
    {
        try
        {
            var (header, size) = ReadArchiveHeader(filez);
            return new ArchiveContentReader(header, size, filez, leaveOpen);
        }
        catch
        {
            if (!leaveOpen)
                filez.Dispose();
            throw;
        }
    }

    /// <inheritdoc cref="OpenArchive"/>
    public static async Task<ArchiveContentReader> OpenArchiveAsync(Stream filez, bool leaveOpen, CancellationToken cancellationToken)
    {
        try
        {
            var (header, size) = await ReadArchiveHeaderAsync(filez, cancellationToken).ConfigureAwait(false);
            return new ArchiveContentReader(header, size, filez, leaveOpen);
        }
        catch
        {
            if (!leaveOpen)
                await filez.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }
}

/// <summary>An opened .filez: header, declared size and the inflated content stream (empty for symlinks).</summary>
public sealed class ArchiveContentReader : IDisposable, IAsyncDisposable
{
    private readonly Stream _source;
    private readonly bool _leaveOpen;

    internal ArchiveContentReader(FileHeader header, ulong size, Stream source, bool leaveOpen)
    {
        Header = header;
        Size = size;
        _source = source;
        _leaveOpen = leaveOpen;
        Content = header.IsSymlink ? Stream.Null : new DeflateStream(source, CompressionMode.Decompress, leaveOpen: true);
    }

    public FileHeader Header { get; }

    /// <summary>Declared content size from the .filez header (0 for symlinks).</summary>
    public ulong Size { get; }

    /// <summary>The file content (raw deflate decoded). Not seekable.</summary>
    public Stream Content { get; }

    public void Dispose()
    {
        Content.Dispose();
        if (!_leaveOpen)
            _source.Dispose();
    }

    public async ValueTask DisposeAsync()
    {
        await Content.DisposeAsync().ConfigureAwait(false);
        if (!_leaveOpen)
            await _source.DisposeAsync().ConfigureAwait(false);
    }
}
