namespace OtaServer.OSTree.Tests;

/// <summary>Objects that parse but that no ostree writer produces, found by probing the push path: refused at verification.</summary>
public sealed class HostileObjectTests
{
    private static readonly string Dir = Path.Combine(AppContext.BaseDirectory, "Fixtures", "ostree-2022.7");

    private static (ObjectName Name, byte[] Bytes) FixtureFilez()
    {
        var file = Directory.EnumerateFiles(Dir, "*.filez").Order(StringComparer.Ordinal)
            .First(f => ContentObject.ReadArchiveHeader(new MemoryStream(File.ReadAllBytes(f))).Header.IsRegularFile);
        return (ObjectName.Parse(Path.GetFileName(file)), File.ReadAllBytes(file));
    }

    [Theory]
    [InlineData(1 << 20)]
    [InlineData(64 << 10)]
    public void Filez_WithGarbageAfterTheDeflateBody_IsRejected(int garbage)
    {
        var (name, bytes) = FixtureFilez();
        ObjectVerifier.Verify(name, new MemoryStream(bytes)); // the object itself is fine
        var padded = new byte[bytes.Length + garbage];
        bytes.CopyTo(padded, 0);
        new Random(5).NextBytes(padded.AsSpan(bytes.Length));

        var e = Assert.Throws<InvalidObjectException>(() => ObjectVerifier.Verify(name, new MemoryStream(padded)));
        Assert.Contains("follow the end of the deflate body", e.Reason);
    }

    private static byte[] DirTreeBytes(params string[] fileNames) => new DirTree
    {
        Files = fileNames.Select(n => new DirTreeFile(n, Checksum.Compute(System.Text.Encoding.UTF8.GetBytes(n)))).ToArray(),
    }.Serialize();

    [Theory]
    [InlineData("a", "a")]
    [InlineData("b", "a")]
    public void DirTree_WithADuplicateOrUnsortedName_IsRejected(string first, string second)
    {
        var bytes = DirTreeBytes(first, second);
        var name = new ObjectName(Checksum.Compute(bytes), ObjectType.DirTree);
        var e = Assert.Throws<InvalidObjectException>(() => ObjectVerifier.VerifyMetadata(name, bytes));
        Assert.Contains(first == second ? "listed twice" : "not sorted", e.Reason);
    }

    [Fact]
    public void DirTree_WithANameThatIsBothFileAndDirectory_IsRejected()
    {
        var meta = Checksum.Compute([1]);
        var bytes = new DirTree
        {
            Files = [new DirTreeFile("etc", meta)],
            Dirs = [new DirTreeDir("etc", meta, meta)],
        }.Serialize();
        var name = new ObjectName(Checksum.Compute(bytes), ObjectType.DirTree);
        var e = Assert.Throws<InvalidObjectException>(() => ObjectVerifier.VerifyMetadata(name, bytes));
        Assert.Contains("both as a file and as a directory", e.Reason);
    }

    [Fact]
    public void DirTree_SortedByUtf8Bytes_IsAccepted()
    {
        // 'Z' (0x5A) < 'a' (0x61) < 'é' (0xC3 0xA9): strcmp order, as ostree writes it.
        var bytes = DirTreeBytes("Z", "a", "é");
        var name = new ObjectName(Checksum.Compute(bytes), ObjectType.DirTree);
        ObjectVerifier.VerifyMetadata(name, bytes);
        Assert.Equal(["Z", "a", "é"], DirTree.Parse(bytes).Files.Select(f => f.Name));
    }
}
