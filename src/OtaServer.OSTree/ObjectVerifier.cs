using System.Buffers;

namespace OtaServer.OSTree;

/// <summary>Result of a successful verification.</summary>
/// <param name="Name">The verified object.</param>
/// <param name="StoredSize">Bytes read from the archive file.</param>
/// <param name="FileHeader">For content objects: the header; null for metadata.</param>
/// <param name="ContentSize">For content objects: the inflated content size (0 for symlinks); for metadata: <paramref name="StoredSize"/>.</param>
public sealed record VerifiedObject(ObjectName Name, long StoredSize, FileHeader? FileHeader, long ContentSize);

/// <summary>
/// Verifies archive-repository object files against their names before they are accepted or served:
/// metadata must be normal-form GVariant of its type and hash to its name (commitmeta / tombstones are named
/// after their commit, so only the format is checked); .filez headers must be sane, the body must inflate to
/// the declared size and the recomputed content checksum must equal the name. Streaming, memory bounded
/// (metadata up to <see cref="MaxMetadataSize"/>, headers up to <see cref="ContentObject.MaxHeaderSize"/>).
/// </summary>
public static class ObjectVerifier
{
    /// <summary>The client's limit for metadata objects (OSTREE_MAX_METADATA_SIZE).</summary>
    public const int MaxMetadataSize = 10 * 1024 * 1024;

    private const int BufferSize = 81920;

    /// <exception cref="InvalidObjectException">The object is invalid; the reason says why.</exception>
    public static VerifiedObject Verify(ObjectName name, Stream data) =>
        VerifyAsync(name, data, CancellationToken.None, sync: true).GetAwaiter().GetResult();

    /// <inheritdoc cref="Verify"/>
    public static Task<VerifiedObject> VerifyAsync(ObjectName name, Stream data, CancellationToken cancellationToken) =>
        VerifyAsync(name, data, cancellationToken, sync: false);

    /// <summary>Verifies the complete bytes of a metadata object.</summary>
    /// <exception cref="InvalidObjectException">The object is invalid.</exception>
    public static void VerifyMetadata(ObjectName name, ReadOnlySpan<byte> bytes)
    {
        if (!name.Type.IsMetadata())
            throw new ArgumentException($"{name} is not a metadata object.", nameof(name));
        if (bytes.Length > MaxMetadataSize)
            throw new InvalidObjectException(name, $"metadata objects are limited to {MaxMetadataSize} bytes, this one has {bytes.Length}.");
        try
        {
            switch (name.Type)
            {
                case ObjectType.Commit:
                    Commit.Parse(bytes);
                    break;
                case ObjectType.DirTree:
                    DirTree.Parse(bytes);
                    break;
                case ObjectType.DirMeta:
                    DirMeta.Parse(bytes);
                    break;
                default:
                    GVariant.ParseNormalForm(GVariantType.VarDict, bytes.ToArray());
                    break;
            }
        }
        catch (FormatException e)
        {
            throw new InvalidObjectException(name, $"not a valid {name.Type.ToArchiveExtension()} object: {e.Message}", e);
        }
        if (name.Type is ObjectType.Commit or ObjectType.DirTree or ObjectType.DirMeta)
        {
            var actual = Checksum.Compute(bytes);
            if (actual != name.Checksum)
                throw new InvalidObjectException(name, $"content hashes to {actual}, not to its name.");
        }
    }

    private static async Task<VerifiedObject> VerifyAsync(ObjectName name, Stream data, CancellationToken ct, bool sync)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (!name.Type.IsDefined())
            throw new ArgumentException($"Unknown object type {(int)name.Type}.", nameof(name));
        var counting = new CountingReadStream(data);
        if (name.Type.IsMetadata())
        {
            var bytes = await ReadBoundedAsync(name, counting, ct, sync).ConfigureAwait(false);
            VerifyMetadata(name, bytes);
            return new VerifiedObject(name, bytes.Length, null, bytes.Length);
        }
        return await VerifyContentAsync(name, counting, ct, sync).ConfigureAwait(false);
    }

    private static async Task<byte[]> ReadBoundedAsync(ObjectName name, Stream s, CancellationToken ct, bool sync)
    {
        using var ms = new MemoryStream();
        var buf = ArrayPool<byte>.Shared.Rent(BufferSize);
        try
        {
            while (true)
            {
                int n = sync ? s.Read(buf, 0, BufferSize) : await s.ReadAsync(buf.AsMemory(0, BufferSize), ct).ConfigureAwait(false);
                if (n == 0)
                    break;
                if (ms.Length + n > MaxMetadataSize)
                    throw new InvalidObjectException(name, $"metadata objects are limited to {MaxMetadataSize} bytes.");
                ms.Write(buf, 0, n);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buf);
        }
        return ms.ToArray();
    }

    private static async Task<VerifiedObject> VerifyContentAsync(ObjectName name, CountingReadStream data, CancellationToken ct, bool sync)
    {
        FileHeader header;
        ulong declared;
        try
        {
            (header, declared) = sync
                ? ContentObject.ReadArchiveHeader(data)
                : await ContentObject.ReadArchiveHeaderAsync(data, ct).ConfigureAwait(false);
        }
        catch (FormatException e)
        {
            throw new InvalidObjectException(name, $"bad .filez header: {e.Message}", e);
        }
        if (!header.IsRegularFile && !header.IsSymlink)
            throw new InvalidObjectException(name, $"mode 0{Convert.ToString(header.Mode, 8)} is neither a regular file nor a symlink.");
        if ((header.Mode & ~(PosixMode.TypeMask | PosixMode.PermissionMask)) != 0)
            throw new InvalidObjectException(name, $"mode 0{Convert.ToString(header.Mode, 8)} has unknown bits.");
        if (header.Rdev != 0)
            throw new InvalidObjectException(name, $"rdev is {header.Rdev}, must be 0.");

        using var hash = ContentObject.BeginChecksum(header);
        long contentSize = 0;
        if (header.IsSymlink)
        {
            if (header.SymlinkTarget.Length == 0)
                throw new InvalidObjectException(name, "symlink with an empty target.");
            if (declared != 0 && declared != (ulong)System.Text.Encoding.UTF8.GetByteCount(header.SymlinkTarget))
                throw new InvalidObjectException(name, $"symlink declares a size of {declared}.");
            var one = new byte[1];
            int extra = sync ? data.Read(one, 0, 1) : await data.ReadAsync(one, ct).ConfigureAwait(false);
            if (extra != 0)
                throw new InvalidObjectException(name, "symlink object has a body; symlinks carry no content.");
        }
        else
        {
            if (header.SymlinkTarget.Length != 0)
                throw new InvalidObjectException(name, "regular file with a symlink target.");
            if (declared > long.MaxValue)
                throw new InvalidObjectException(name, $"declared size {declared} is not plausible.");
            var inflater = new System.IO.Compression.DeflateStream(data, System.IO.Compression.CompressionMode.Decompress, leaveOpen: true);
            await using (inflater.ConfigureAwait(false))
            {
                var buf = ArrayPool<byte>.Shared.Rent(BufferSize);
                try
                {
                    while (true)
                    {
                        int n;
                        try
                        {
                            n = sync ? inflater.Read(buf, 0, BufferSize) : await inflater.ReadAsync(buf.AsMemory(0, BufferSize), ct).ConfigureAwait(false);
                        }
                        catch (InvalidDataException e)
                        {
                            throw new InvalidObjectException(name, $"the deflate body is corrupt: {e.Message}", e);
                        }
                        if (n == 0)
                            break;
                        contentSize += n;
                        if ((ulong)contentSize > declared)
                            throw new InvalidObjectException(name, $"the body inflates to more than the declared {declared} bytes.");
                        hash.AppendData(buf, 0, n);
                    }
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(buf);
                }
            }
            if ((ulong)contentSize != declared)
                throw new InvalidObjectException(name, $"the body inflates to {contentSize} bytes, the header declares {declared}.");
            // Bytes after the end of the deflate stream would be downloaded by every client for nothing. The
            // inflater reads ahead by at most its buffer, so anything the stream holds past that is trailing data.
            var endOfDeflate = data.BytesRead;
            await DrainAsync(data, ct, sync).ConfigureAwait(false);
            if (data.BytesRead != endOfDeflate)
                throw new InvalidObjectException(name, $"{data.BytesRead - endOfDeflate} or more bytes follow the end of the deflate body.");
        }
        var actual = Checksum.FromBytes(hash.GetHashAndReset());
        if (actual != name.Checksum)
            throw new InvalidObjectException(name, $"content checksum is {actual}, not its name.");
        // Drain whatever the inflater did not consume so StoredSize is the full file length.
        await DrainAsync(data, ct, sync).ConfigureAwait(false);
        return new VerifiedObject(name, data.BytesRead, header, contentSize);
    }

    private static async Task DrainAsync(Stream s, CancellationToken ct, bool sync)
    {
        var buf = ArrayPool<byte>.Shared.Rent(BufferSize);
        try
        {
            while ((sync ? s.Read(buf, 0, BufferSize) : await s.ReadAsync(buf.AsMemory(0, BufferSize), ct).ConfigureAwait(false)) > 0)
            {
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buf);
        }
    }

    /// <summary>Read-only pass-through that counts bytes.</summary>
    private sealed class CountingReadStream(Stream inner) : Stream
    {
        public long BytesRead { get; private set; }

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => BytesRead;
            set => throw new NotSupportedException();
        }

        public override int Read(byte[] buffer, int offset, int count)
        {
            int n = inner.Read(buffer, offset, count);
            BytesRead += n;
            return n;
        }

        public override int Read(Span<byte> buffer)
        {
            int n = inner.Read(buffer);
            BytesRead += n;
            return n;
        }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            int n = await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
            BytesRead += n;
            return n;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
