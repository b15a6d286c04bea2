using OtaServer.Serving;

namespace OtaServer.Tests.Serving;

public sealed class RepositoryPathGuardTests
{
    private const string Hex62 = "2a82de8f343735d060e2c3407791014a0c22831cd34a23523513d1e76af5a9";
    private const string Scratch = "deltas/OS/qC3o80NzXQYOLDQHeRAUoMIoMc00ojUjUT0edq9ak";
    private const string FromTo = "deltas/OS/qC3o80NzXQYOLDQHeRAUoMIoMc00ojUjUT0edq9ak-SbR2oRsb5VtgVwh15QXZWXXTNnlkaGVA4x0xWTmjL54";

    [Theory]
    [InlineData("summary", "Summary")]
    [InlineData("summary.sig", "SummarySignature")]
    [InlineData("config", "Config")]
    [InlineData("refs/heads/main", "Ref")]
    [InlineData("refs/heads/exampleos/x86_64/stable", "Ref")]
    [InlineData("refs/mirrors/org.example.Os/main", "Ref")]
    [InlineData("objects/39/" + Hex62 + ".commit", "Object")]
    [InlineData("objects/39/" + Hex62 + ".dirtree", "Object")]
    [InlineData("objects/39/" + Hex62 + ".dirmeta", "Object")]
    [InlineData("objects/39/" + Hex62 + ".filez", "Object")]
    [InlineData("objects/39/" + Hex62 + ".commitmeta", "CommitMeta")]
    [InlineData("objects/39/" + Hex62 + ".commit-tombstone", "Tombstone")]
    [InlineData(Scratch + "/superblock", "DeltaSuperblock")]
    [InlineData(FromTo + "/superblock", "DeltaSuperblock")]
    [InlineData(FromTo + "/0", "DeltaPart")]
    [InlineData(Scratch + "/17", "DeltaPart")]
    [InlineData("deltas/+u/z+4vxiBoI9RxJiaKdzKjsu2JXjAeRI0FK_bwS2o7U/0", "DeltaPart")]
    [InlineData("delta-indexes/+u/z+4vxiBoI9RxJiaKdzKjsu2JXjAeRI0FK_bwS2o7U.index", "DeltaIndex")]
    public void Check_ArchiveLayout_IsServed(string path, string kind)
    {
        Assert.Equal(PathVerdict.Serve, RepositoryPathGuard.Check(path, out var actual));
        Assert.Equal(Enum.Parse<RepositoryFileKind>(kind), actual);
    }

    [Theory]
    [InlineData("..")]
    [InlineData("../config")]
    [InlineData("objects/../config")]
    [InlineData("./config")]
    [InlineData("/etc/passwd")]
    [InlineData("objects//39")]
    [InlineData("..%2fconfig")]
    [InlineData("objects\\..\\config")]
    [InlineData("config\0")]
    [InlineData("sum mary")]
    [InlineData("summary?x")]
    [InlineData("c:config")]
    [InlineData("~/config")]
    [InlineData("objects/39/\u00e9")]
    public void Check_Hostile_IsBadRequest(string path) =>
        Assert.Equal(PathVerdict.BadRequest, RepositoryPathGuard.Check(path, out _));

    [Fact]
    public void Check_Overlong_IsBadRequest()
    {
        Assert.Equal(PathVerdict.BadRequest, RepositoryPathGuard.Check("refs/heads/" + new string('a', 256), out _));
        Assert.Equal(PathVerdict.BadRequest, RepositoryPathGuard.Check("refs/heads/" + string.Join('/', Enumerable.Repeat("abcdefgh", 200)), out _));
    }

    [Theory]
    [InlineData("")]
    [InlineData("objects")]
    [InlineData("objects/")]
    [InlineData("objects/39")]
    [InlineData("refs/heads")]
    [InlineData("refs/heads/")]
    [InlineData("refs/remotes/origin/main")]
    [InlineData("tmp/x")]
    [InlineData("state/x")]
    [InlineData("extensions/x")]
    [InlineData(".lock")]
    [InlineData("refs/heads/.hidden")]
    [InlineData("objects/39/." + Hex62 + ".filez")]
    [InlineData("objects/39/" + Hex62 + ".filez.tmp")]
    [InlineData("objects/39/" + Hex62 + ".file")]
    [InlineData("objects/39/" + Hex62 + "0.filez")]
    [InlineData("objects/3/9" + Hex62 + ".filez")]
    [InlineData("objects/39/" + "2A82DE8F343735D060E2C3407791014A0C22831CD34A23523513D1E76AF5A9" + ".filez")]
    [InlineData("summary.tmp")]
    [InlineData("config/x")]
    [InlineData(Scratch)]
    [InlineData(Scratch + "/")]
    [InlineData(Scratch + "/00")]
    [InlineData(Scratch + "/-1")]
    [InlineData(Scratch + "/superblock.tmp")]
    [InlineData("deltas/OS/short/superblock")]
    public void Check_NotServed_IsNotFound(string path) =>
        Assert.Equal(PathVerdict.NotServed, RepositoryPathGuard.Check(path, out _));
}
