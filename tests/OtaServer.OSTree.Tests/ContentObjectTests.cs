using System.Text;

namespace OtaServer.OSTree.Tests;

public sealed class ContentObjectTests
{
    // ostree-format.md §2.3: .filez of "Welcome to v2!\n" with xattr user.test=xattr-value (74 bytes).
    private static readonly byte[] SpecFilez = Convert.FromHexString(
        "0000003100000000" + "000000000000000F" + "00000000" + "00000000" + "000081A4" + "00000000" + "00" +
        "757365722E7465737400" + "78617474722D76616C7565" + "0A" + "16" + "19" +
        "0B4FCD49CECF4D5528C957283352E40200");

    private static FileHeader SpecHeader => FileHeader.RegularFile(0, 0, 0x1A4, [Xattr.Create("user.test", "xattr-value"u8.ToArray())]);

    [Fact]
    public void ArchiveHeader_MatchesSpecBytes()
    {
        var prefixed = FileHeader.LengthPrefixed(SpecHeader.SerializeArchiveHeader(15));
        Assert.Equal(SpecFilez.AsSpan(0, 57).ToArray(), prefixed);
    }

    [Fact]
    public void OpenArchive_ReadsSpecExample()
    {
        using var reader = ContentObject.OpenArchive(new MemoryStream(SpecFilez));
        Assert.Equal(SpecHeader, reader.Header);
        Assert.Equal(15ul, reader.Size);
        using var sr = new StreamReader(reader.Content, Encoding.UTF8);
        Assert.Equal("Welcome to v2!\n", sr.ReadToEnd());
        Assert.Equal("user.test", reader.Header.Xattrs[0].NameString);
        Assert.Equal(10, reader.Header.Xattrs[0].Name.Length); // trailing NUL kept
    }

    [Fact]
    public void CreateArchive_RoundTripsAndVerifies()
    {
        var content = Encoding.UTF8.GetBytes("Welcome to v2!\n");
        var filez = ContentObject.CreateArchive(SpecHeader, content);
        var checksum = ContentObject.ComputeChecksum(SpecHeader, content);
        var verified = ObjectVerifier.Verify(new ObjectName(checksum, ObjectType.File), new MemoryStream(filez));
        Assert.Equal(15, verified.ContentSize);
        Assert.Equal(filez.Length, verified.StoredSize);
        // The spec's bytes (written by real ostree) name the same object.
        ObjectVerifier.Verify(new ObjectName(checksum, ObjectType.File), new MemoryStream(SpecFilez));
    }

    [Fact]
    public void EmptyFile_HasEmptyDeflateBlock()
    {
        var header = FileHeader.RegularFile(0, 0, 0x1A4);
        var filez = ContentObject.CreateArchive(header, []);
        Assert.Equal(new byte[] { 0x03, 0x00 }, filez[^2..]);
    }

    [Fact]
    public void Symlink_HasNoBodyAndSizeZero()
    {
        var header = FileHeader.Symlink(0, 0, "a/target");
        var filez = ContentObject.CreateArchive(header, []);
        using var reader = ContentObject.OpenArchive(new MemoryStream(filez));
        Assert.Equal(0ul, reader.Size);
        Assert.True(reader.Header.IsSymlink);
        Assert.Equal("a/target", reader.Header.SymlinkTarget);
        var prefixLen = 8 + header.SerializeArchiveHeader(0).Length;
        Assert.Equal(prefixLen, filez.Length);
        ObjectVerifier.Verify(new ObjectName(ContentObject.ComputeChecksum(header, []), ObjectType.File), new MemoryStream(filez));
    }

    [Fact]
    public void Verify_RejectsWrongName()
    {
        var filez = ContentObject.CreateArchive(SpecHeader, "abc"u8);
        var ex = Assert.Throws<InvalidObjectException>(() =>
            ObjectVerifier.Verify(new ObjectName(Checksum.Compute("nope"u8), ObjectType.File), new MemoryStream(filez)));
        Assert.Contains("checksum", ex.Reason);
    }

    [Fact]
    public void Verify_RejectsSizeMismatch()
    {
        var header = FileHeader.RegularFile(0, 0, 0x1A4);
        var body = ContentObject.CreateArchive(header, "abcd"u8);
        // Re-write the header to declare 5 bytes while the body inflates to 4.
        var prefixed = FileHeader.LengthPrefixed(header.SerializeArchiveHeader(5));
        var oldPrefixLen = FileHeader.LengthPrefixed(header.SerializeArchiveHeader(4)).Length;
        var tampered = prefixed.Concat(body.Skip(oldPrefixLen)).ToArray();
        var name = new ObjectName(ContentObject.ComputeChecksum(header, "abcd"u8), ObjectType.File);
        var ex = Assert.Throws<InvalidObjectException>(() => ObjectVerifier.Verify(name, new MemoryStream(tampered)));
        Assert.Contains("declares 5", ex.Reason);
    }

    [Fact]
    public void Verify_RejectsHugeHeaderLength()
    {
        var bytes = Convert.FromHexString("7FFFFFFF00000000");
        var name = new ObjectName(Checksum.Compute("x"u8), ObjectType.File);
        Assert.Throws<InvalidObjectException>(() => ObjectVerifier.Verify(name, new MemoryStream(bytes)));
    }

    [Fact]
    public void Verify_RejectsDeviceNodes()
    {
        var header = new FileHeader { Mode = 0x2000 | 0x1A4 }; // S_IFCHR
        var z = FileHeader.LengthPrefixed(header.SerializeArchiveHeader(0));
        var name = new ObjectName(ContentObject.ComputeChecksum(header, []), ObjectType.File);
        var ex = Assert.Throws<InvalidObjectException>(() => ObjectVerifier.Verify(name, new MemoryStream(z)));
        Assert.Contains("neither", ex.Reason);
    }

    [Fact]
    public async Task VerifyAsync_AcceptsMetadataWithMatchingHash()
    {
        var dirmeta = new DirMeta { Mode = 0x41ED }.Serialize();
        var name = new ObjectName(Checksum.Compute(dirmeta), ObjectType.DirMeta);
        var result = await ObjectVerifier.VerifyAsync(name, new MemoryStream(dirmeta), CancellationToken.None);
        Assert.Equal(12, result.StoredSize);
        var wrong = new ObjectName(Checksum.Compute("x"u8), ObjectType.DirMeta);
        await Assert.ThrowsAsync<InvalidObjectException>(() => ObjectVerifier.VerifyAsync(wrong, new MemoryStream(dirmeta), CancellationToken.None));
    }

    [Fact]
    public void Verify_RejectsNonNormalMetadata()
    {
        var bad = new byte[] { 0x00, 0x01 }; // dirtree with a bogus offset
        var name = new ObjectName(Checksum.Compute(bad), ObjectType.DirTree);
        Assert.Throws<InvalidObjectException>(() => ObjectVerifier.Verify(name, new MemoryStream(bad)));
    }
}
