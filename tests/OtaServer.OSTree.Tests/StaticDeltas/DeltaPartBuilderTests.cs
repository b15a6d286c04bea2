using OtaServer.OSTree.StaticDeltas;

namespace OtaServer.OSTree.Tests.StaticDeltas;

public sealed class DeltaPartBuilderTests
{
    private static EncodedObject Literal(int seed, int size, uint mode, params Xattr[] xattrs)
    {
        var data = new byte[size];
        new Random(seed).NextBytes(data);
        var header = FileHeader.RegularFile(0, 0, mode, xattrs);
        return new EncodedObject
        {
            Name = new ObjectName(ContentObject.ComputeChecksum(header, data), ObjectType.File),
            Strategy = DeltaStrategy.Literal,
            Header = header,
            Payload = [data],
            Ops = [new DeltaOp(DeltaOpCode.SpliceContent, data.Length, 0)],
            USize = data.Length,
        };
    }

    [Theory]
    [InlineData(10)]       // 1-byte framing offsets
    [InlineData(3_000)]    // 2-byte
    [InlineData(70_000)]   // 4-byte
    public void StreamedPayloadEqualsTheNormalFormSerialization(int size)
    {
        var part = new DeltaPartBuilder(0);
        part.Add(Literal(1, size, 0x1A4));
        part.Add(Literal(2, size / 2, 0x1ED, Xattr.Create("user.a", "v"u8.ToArray())));
        part.Add(Literal(3, 1, 0x1A4));
        using var streamed = new MemoryStream();

        long length = part.WritePayload(span => streamed.Write(span));

        var parsed = GVariant.Parse("(a(uuu)aa(ayay)ayay)", streamed.ToArray());
        Assert.Equal(streamed.Length, length);
        Assert.True(GVariant.IsNormalForm(parsed.Type, streamed.ToArray()));
        Assert.Equal(2, parsed[0].Count);   // two distinct modes
        Assert.Equal(2, parsed[1].Count);   // no xattrs, one xattr
        Assert.Equal(size + size / 2 + 1, parsed[2].GetBytes().Length);
        Assert.Equal(parsed.Serialize(), streamed.ToArray());
    }

    [Fact]
    public void PartFileIsXzWithTheCompressionByteAndItsChecksumCoversTheWholeFile()
    {
        using var dir = new DeltaTempDir();
        var part = new DeltaPartBuilder(3);
        part.Add(Literal(5, 100_000, 0x1A4));

        var header = part.WriteTo(dir.Path, 6, CancellationToken.None);

        var bytes = File.ReadAllBytes(Path.Combine(dir.Path, "3"));
        Assert.Equal((byte)'x', bytes[0]);
        Assert.Equal(bytes.Length, header.Size);
        Assert.Equal(Checksum.Compute(bytes), header.Checksum);
        var payload = XzDecompressor.Decompress(bytes.AsSpan(1));
        Assert.Equal(header.PayloadSize, payload.Length);
        Assert.Equal(33, header.Objects.Length);
    }
}
