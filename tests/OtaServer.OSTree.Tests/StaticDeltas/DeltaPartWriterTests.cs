using OtaServer.OSTree.StaticDeltas;

namespace OtaServer.OSTree.Tests.StaticDeltas;

public sealed class DeltaPartWriterTests
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
    public async Task PartFileIsXzOfTheNormalFormPayloadAndItsChecksumCoversTheWholeFile(int size)
    {
        using var dir = new TempDirectory();
        var objects = new[]
        {
            Literal(1, size, 0x81A4),
            Literal(2, size / 2, 0x81ED, Xattr.Create("user.a", "v"u8.ToArray())),
            Literal(3, 1, 0x81A4),
        };
        var tables = new DeltaTables(objects.Select(o => o.Header!));
        var writer = new DeltaPartWriter(3, dir.Path, new XzOptions { Preset = 6, Threads = 1 }, tables, 1 << 20, CancellationToken.None);
        foreach (var o in objects)
            await writer.AddAsync(o, CancellationToken.None);

        var header = await writer.CompleteAsync();

        var bytes = File.ReadAllBytes(Path.Combine(dir.Path, "3"));
        Assert.Equal((byte)'x', bytes[0]);
        Assert.Equal(bytes.Length, header.Size);
        Assert.Equal(Checksum.Compute(bytes), header.Checksum);
        Assert.Equal(3 * 33, header.Objects.Length);
        var payload = XzDecompressor.Decompress(bytes.AsSpan(1));
        Assert.Equal(header.PayloadSize, payload.Length);
        Assert.True(GVariant.IsNormalForm(GVariantType.Parse("(a(uuu)aa(ayay)ayay)"), payload));
        var parsed = GVariant.Parse("(a(uuu)aa(ayay)ayay)", payload);
        Assert.Equal(2, parsed[0].Count);   // two distinct modes
        Assert.Equal(2, parsed[1].Count);   // no xattrs, one xattr
        Assert.Equal(size + size / 2 + 1, parsed[2].GetBytes().Length);
        Assert.Equal(parsed.Serialize(), payload);
    }
}
