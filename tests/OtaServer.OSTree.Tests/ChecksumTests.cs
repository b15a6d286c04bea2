namespace OtaServer.OSTree.Tests;

public sealed class ChecksumTests
{
    private const string Hex = "392a82de8f343735d060e2c3407791014a0c22831cd34a23523513d1e76af5a9";

    [Fact]
    public void Parse_RoundTripsLowercaseHex()
    {
        var c = Checksum.Parse(Hex.ToUpperInvariant());
        Assert.Equal(Hex, c.ToString());
        Assert.Equal(32, c.ToArray().Length);
        Assert.Equal(c, Checksum.FromBytes(c.AsSpan()));
    }

    [Theory]
    [InlineData("")]
    [InlineData("392a")]
    [InlineData("g92a82de8f343735d060e2c3407791014a0c22831cd34a23523513d1e76af5a9")]
    [InlineData("392a82de8f343735d060e2c3407791014a0c22831cd34a23523513d1e76af5a9aa")]
    public void TryParse_RejectsMalformedHex(string text) => Assert.False(Checksum.TryParse(text, out _));

    [Fact]
    public void ToMb64_MatchesSpecExample()
    {
        var c = Checksum.Parse(Hex);
        Assert.Equal("OSqC3o80NzXQYOLDQHeRAUoMIoMc00ojUjUT0edq9ak", c.ToMb64());
        Assert.Equal(c, Checksum.FromMb64("OSqC3o80NzXQYOLDQHeRAUoMIoMc00ojUjUT0edq9ak"));
    }

    [Fact]
    public void ToMb64_ReplacesSlashWithUnderscoreAndKeepsPlus()
    {
        var bytes = Enumerable.Repeat((byte)0xFF, 32).ToArray(); // base64 "////…"
        bytes[0] = 0xFB; // "+" in the first char
        var c = Checksum.FromBytes(bytes);
        var mb64 = c.ToMb64();
        Assert.DoesNotContain('/', mb64);
        Assert.DoesNotContain('=', mb64);
        Assert.StartsWith("+_", mb64);
        Assert.Equal(c, Checksum.FromMb64(mb64));
    }

    [Fact]
    public void Default_IsAllZeros() => Assert.Equal(new string('0', 64), default(Checksum).ToString());

    [Fact]
    public void ObjectName_RelativePathAndParse()
    {
        var name = new ObjectName(Checksum.Parse(Hex), ObjectType.DirTree);
        Assert.Equal("objects/39/2a82de8f343735d060e2c3407791014a0c22831cd34a23523513d1e76af5a9.dirtree", name.RelativePath);
        Assert.Equal(Hex + ".dirtree", name.ToString());
        Assert.True(ObjectName.TryParse(name.ToString(), out var back));
        Assert.Equal(name, back);
        Assert.True(ObjectName.TryParseRelativePath("repo/x/" + name.RelativePath, out var fromPath));
        Assert.Equal(name, fromPath);
        Assert.True(ObjectName.TryParseRelativePath(name.RelativePath, out _));
    }

    [Theory]
    [InlineData("objects/39/2a82de8f343735d060e2c3407791014a0c22831cd34a23523513d1e76af5a9.file")]
    [InlineData("objects/39/2a82de8f343735d060e2c3407791014a0c22831cd34a23523513d1e76af5a9")]
    [InlineData("object/39/2a82de8f343735d060e2c3407791014a0c22831cd34a23523513d1e76af5a9.filez")]
    [InlineData("objects/3/92a82de8f343735d060e2c3407791014a0c22831cd34a23523513d1e76af5a9.filez")]
    [InlineData("objects/39/2A82de8f343735d060e2c3407791014a0c22831cd34a23523513d1e76af5a9.filez")]
    [InlineData("39/2a82de8f343735d060e2c3407791014a0c22831cd34a23523513d1e76af5a9.filez")]
    public void ObjectName_TryParseRelativePath_RejectsOtherPaths(string path) =>
        Assert.False(ObjectName.TryParseRelativePath(path, out _));

    [Theory]
    [InlineData(ObjectType.File, "filez")]
    [InlineData(ObjectType.DirTree, "dirtree")]
    [InlineData(ObjectType.DirMeta, "dirmeta")]
    [InlineData(ObjectType.Commit, "commit")]
    [InlineData(ObjectType.TombstoneCommit, "commit-tombstone")]
    [InlineData(ObjectType.CommitMeta, "commitmeta")]
    public void ObjectType_ExtensionRoundTrips(ObjectType type, string ext)
    {
        Assert.Equal(ext, type.ToArchiveExtension());
        Assert.True(ObjectTypeExtensions.TryParseArchiveExtension(ext, out var back));
        Assert.Equal(type, back);
    }

    [Fact]
    public void Json_UsesHexString()
    {
        var c = Checksum.Parse(Hex);
        var json = System.Text.Json.JsonSerializer.Serialize(new { Commit = c, Maybe = (Checksum?)null });
        Assert.Equal($"{{\"Commit\":\"{Hex}\",\"Maybe\":null}}", json);
        Assert.Equal(c, System.Text.Json.JsonSerializer.Deserialize<Checksum>($"\"{Hex}\""));
        Assert.Throws<System.Text.Json.JsonException>(() => System.Text.Json.JsonSerializer.Deserialize<Checksum>("\"xyz\""));
    }
}
