using OtaServer.OSTree.Tests.Infrastructure;

namespace OtaServer.OSTree.Tests;

public sealed class StreamingTests
{
    /// <summary>Endless-pattern stream of a given length (never materialized).</summary>
    private sealed class PatternStream(long length) : Stream
    {
        private long _pos;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => length;

        public override long Position
        {
            get => _pos;
            set => throw new NotSupportedException();
        }

        public override int Read(byte[] buffer, int offset, int count)
        {
            int n = (int)Math.Min(count, length - _pos);
            for (int i = 0; i < n; i++)
                buffer[offset + i] = (byte)((_pos + i) % 251 ^ ((_pos + i) >> 12));
            _pos += n;
            return n;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    [Fact]
    public async Task LargeContentObject_WritesAndVerifiesWithBoundedAllocations()
    {
        const long size = 64L * 1024 * 1024;
        using var tmp = new TempDirectory();
        var path = tmp.Combine("big.filez");
        var header = FileHeader.RegularFile(0, 0, 0x1A4);
        Checksum written;
        await using (var fs = File.Create(path))
            written = await ContentObject.WriteArchiveAsync(fs, header, new PatternStream(size), size, CancellationToken.None);
        Assert.Equal(ContentObject.ComputeChecksum(header, new PatternStream(size)), written);

        long before = GC.GetAllocatedBytesForCurrentThread();
        VerifiedObject result;
        using (var fs = File.OpenRead(path))
            result = ObjectVerifier.Verify(new ObjectName(written, ObjectType.File), fs);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(size, result.ContentSize);
        Assert.True(allocated < 8 * 1024 * 1024, $"verification of a 64 MiB file allocated {allocated} bytes");
    }

    [Fact]
    public async Task WriteArchive_RejectsContentShorterThanDeclared()
    {
        var header = FileHeader.RegularFile(0, 0, 0x1A4);
        await Assert.ThrowsAsync<InvalidDataException>(() =>
            ContentObject.WriteArchiveAsync(new MemoryStream(), header, new PatternStream(10), 11, CancellationToken.None));
        Assert.Throws<InvalidDataException>(() => ContentObject.WriteArchive(new MemoryStream(), header, new PatternStream(12), 11));
    }

    [Fact]
    public async Task OpenArchiveAsync_ReadsWhatWriteArchiveWrote()
    {
        var header = FileHeader.RegularFile(5, 6, 0x180);
        var ms = new MemoryStream();
        var sum = ContentObject.WriteArchive(ms, header, new PatternStream(100_000), 100_000);
        ms.Position = 0;
        await using var reader = await ContentObject.OpenArchiveAsync(ms, leaveOpen: false, CancellationToken.None);
        Assert.Equal(header, reader.Header);
        Assert.Equal(100_000ul, reader.Size);
        Assert.Equal(sum, ContentObject.ComputeChecksum(header, reader.Content));
    }
}
