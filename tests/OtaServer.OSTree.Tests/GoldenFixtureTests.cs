using System.Security.Cryptography;
using System.Text;

namespace OtaServer.OSTree.Tests;

/// <summary>
/// Small byte fixtures kept in the repository: objects, summary and delta index written by ostree 2022.7
/// (Fixtures/ostree-2022.7, files named after their objects), and GVariant vectors from the reference serializer
/// that was checked against GLib (Fixtures/gvariant-vectors.txt, regenerate with gen_gvariant_vectors.py).
/// </summary>
public sealed class GoldenFixtureTests
{
    private static readonly string Dir = Path.Combine(AppContext.BaseDirectory, "Fixtures", "ostree-2022.7");

    public static TheoryData<string> ObjectFiles()
    {
        var data = new TheoryData<string>();
        foreach (var f in Directory.EnumerateFiles(Dir).Select(Path.GetFileName).Where(f => ObjectName.TryParse(f, out _)).Order())
            data.Add(f!);
        return data;
    }

    [Theory]
    [MemberData(nameof(ObjectFiles))]
    public void GoldenObject_VerifiesAndReserializesByteForByte(string file)
    {
        var name = ObjectName.Parse(file);
        var bytes = File.ReadAllBytes(Path.Combine(Dir, file));
        ObjectVerifier.Verify(name, new MemoryStream(bytes));
        switch (name.Type)
        {
            case ObjectType.Commit:
                Assert.Equal(bytes, Commit.Parse(bytes).Serialize());
                break;
            case ObjectType.DirTree:
                Assert.Equal(bytes, DirTree.Parse(bytes).Serialize());
                break;
            case ObjectType.DirMeta:
                Assert.Equal(bytes, DirMeta.Parse(bytes).Serialize());
                break;
            case ObjectType.File:
                var (h, size) = ContentObject.ReadArchiveHeader(new MemoryStream(bytes));
                var prefix = FileHeader.LengthPrefixed(h.SerializeArchiveHeader(size));
                Assert.Equal(bytes[..prefix.Length], prefix);
                break;
        }
    }

    [Fact]
    public void GoldenFilezWithXattr_IsTheSpecExample()
    {
        var bytes = File.ReadAllBytes(Path.Combine(Dir, "73cc9322ed4c30d621ac2ba740378980667b858017e1c78e6f4cb049722a06bb.filez"));
        Assert.Equal(74, bytes.Length);
        var header = FileHeader.RegularFile(0, 0, 0x1A4, [Xattr.Create("user.test", "xattr-value"u8.ToArray())]);
        // ostree's zlib output for this content equals what we write (level 6 raw deflate).
        var ours = ContentObject.CreateArchive(header, "Welcome to v2!\n"u8);
        Assert.Equal(bytes[..57], ours[..57]);
        Assert.Equal(ObjectName.Parse("73cc9322ed4c30d621ac2ba740378980667b858017e1c78e6f4cb049722a06bb.filez").Checksum,
            ContentObject.ComputeChecksum(header, "Welcome to v2!\n"u8));
    }

    [Fact]
    public void GoldenCommit_Fields()
    {
        var c = Commit.Parse(File.ReadAllBytes(Path.Combine(Dir, "09a699d756a1090133f0f8b091e4e26275f99f537cc0a791064862a0bc89c9a2.commit")));
        Assert.Equal("golden", c.Subject);
        Assert.Equal("1.0", c.Version);
        Assert.Equal(1704164645ul, c.Timestamp);
        Assert.Equal(Checksum.Parse("446a0ef11b7cc167f3b603e585c7eeeeb675faa412d5ec73f62988eb0b6c5488"), c.RootDirMeta);
        Assert.Null(c.Parent);
    }

    [Fact]
    public void GoldenSummaryAndIndex_ParseAndReserialize()
    {
        var bytes = File.ReadAllBytes(Path.Combine(Dir, "summary"));
        var s = Summary.Parse(bytes);
        Assert.Equal(bytes, s.Serialize());
        var golden = Assert.Single(s.Refs);
        Assert.Equal("golden", golden.Name);
        Assert.Equal(142ul, golden.CommitSize);
        Assert.Equal(1704164645ul, golden.CommitTimestamp);
        var delta = Assert.Single(s.Deltas);
        Assert.True(delta.Name.IsFromScratch);
        Assert.Equal(golden.Commit, delta.Name.To);
        var index = File.ReadAllBytes(Path.Combine(Dir, golden.Commit + ".index"));
        Assert.Equal(index, DeltaIndex.Write(golden.Commit, s.Deltas));
    }

    public static IEnumerable<string[]> VectorLines() =>
        File.ReadLines(Path.Combine(AppContext.BaseDirectory, "Fixtures", "gvariant-vectors.txt")).Where(l => l.Length > 0).Select(l => l.Split('\t'));

    [Fact]
    public void ReferenceVectors_AreNormalFormForOurCodec()
    {
        int n = 0;
        foreach (var parts in VectorLines().Where(p => p[0] != "sha256"))
        {
            var type = GVariantType.Parse(parts[0]);
            var bytes = Convert.FromHexString(parts[1]);
            var v = GVariant.Parse(type, bytes);
            Assert.True(bytes.AsSpan().SequenceEqual(v.Serialize()), $"{parts[0]} {parts[1]}");
            n++;
        }
        Assert.True(n > 200);
    }

    [Fact]
    public void ReferenceBoundaryVectors_MatchOurSerializer()
    {
        int n = 0;
        foreach (var p in VectorLines().Where(p => p[0] == "sha256"))
        {
            var a = Encoding.ASCII.GetBytes(new string('x', int.Parse(p[2])));
            var b = Encoding.ASCII.GetBytes(new string('y', int.Parse(p[3])));
            var v = p[1] == "(ayay)" ? GVariant.Tuple(GVariant.Bytes(a), GVariant.Bytes(b)) : GVariant.ByteArrayArray([a, b]);
            var bytes = v.Serialize();
            Assert.Equal(int.Parse(p[4]), bytes.Length);
            Assert.Equal(p[5], Convert.ToHexStringLower(SHA256.HashData(bytes)));
            Assert.True(GVariant.IsNormalForm(v.Type, bytes));
            n++;
        }
        Assert.Equal(48, n);
    }
}
