namespace OtaServer.OSTree.Tests;

public sealed class RepositoryFormatTests
{
    private static readonly Checksum From = Checksum.FromMb64("OSqC3o80NzXQYOLDQHeRAUoMIoMc00ojUjUT0edq9ak");
    private static readonly Checksum To = Checksum.FromMb64("SbR2oRsb5VtgVwh15QXZWXXTNnlkaGVA4x0xWTmjL54");

    [Fact]
    public void DeltaName_PartPath_MatchesSpecExample()
    {
        var d = new DeltaName(From, To);
        Assert.Equal("deltas/OS/qC3o80NzXQYOLDQHeRAUoMIoMc00ojUjUT0edq9ak-SbR2oRsb5VtgVwh15QXZWXXTNnlkaGVA4x0xWTmjL54/0", d.PartRelativePath(0));
        Assert.Equal(d.RelativeDirectory + "/superblock", d.SuperblockRelativePath);
        Assert.True(DeltaName.TryParseRelativePath(d.PartRelativePath(12), out var back));
        Assert.Equal(d, back);
        Assert.True(DeltaName.TryParseRelativePath("/srv/repo/" + d.RelativeDirectory + "/", out back));
        Assert.Equal(d, back);
    }

    [Fact]
    public void DeltaName_FromScratch_SplitsTheTarget()
    {
        var d = new DeltaName(null, To);
        Assert.Equal("deltas/Sb/R2oRsb5VtgVwh15QXZWXXTNnlkaGVA4x0xWTmjL54", d.RelativeDirectory);
        Assert.True(DeltaName.TryParseRelativePath(d.SuperblockRelativePath, out var back));
        Assert.Equal(d, back);
        Assert.Equal(To.ToString(), d.ToString());
        Assert.Equal(d, DeltaName.Parse(To.ToString()));
        Assert.Equal(new DeltaName(From, To), DeltaName.Parse($"{From}-{To}"));
        Assert.Equal("delta-indexes/Sb/R2oRsb5VtgVwh15QXZWXXTNnlkaGVA4x0xWTmjL54.index", DeltaName.IndexRelativePath(To));
    }

    [Theory]
    [InlineData("deltas/OS/short")]
    [InlineData("deltas/OS/qC3o80NzXQYOLDQHeRAUoMIoMc00ojUjUT0edq9ak-SbR2oRsb5VtgVwh15QXZWXXTNnlkaGVA4x0xWTmjL54/other")]
    [InlineData("deltaz/Sb/R2oRsb5VtgVwh15QXZWXXTNnlkaGVA4x0xWTmjL54")]
    public void DeltaName_TryParseRelativePath_RejectsOtherPaths(string path) => Assert.False(DeltaName.TryParseRelativePath(path, out _));

    [Fact]
    public void SummaryWriter_SortsRefsBytewise_AndWritesModeKeysOnlyWhenAsked()
    {
        var c = Checksum.Compute("c"u8);
        var refs = new[] { new SummaryRef("b", c, 10, 5, "1"), new SummaryRef("B", c, 10), new SummaryRef("a/x", c, 10) };
        var plain = Summary.Parse(SummaryWriter.Write(refs, []));
        Assert.Equal(["B", "a/x", "b"], plain.Refs.Select(r => r.Name));
        Assert.True(plain.IndexedDeltas);
        Assert.Null(plain.Mode);
        Assert.Null(plain.TombstoneCommits);
        Assert.Null(plain.Metadata.Lookup(Summary.StaticDeltasKey));
        Assert.Equal(new SummaryRef("b", c, 10, 5, "1"), plain.FindRef("b"));

        var when = new DateTimeOffset(2026, 11, 26, 0, 0, 0, TimeSpan.Zero);
        var full = Summary.Parse(SummaryWriter.Write(refs, [new SummaryDelta(new DeltaName(null, c), Checksum.Compute("sb"u8))],
            new SummaryOptions { Mode = "archive-z2", TombstoneCommits = false, LastModified = when, IndexedDeltas = false }));
        Assert.Equal("archive-z2", full.Mode);
        Assert.False(full.TombstoneCommits);
        Assert.False(full.IndexedDeltas);
        Assert.Equal(when, full.LastModified);
        Assert.Equal(Checksum.Compute("sb"u8), Assert.Single(full.Deltas).SuperblockChecksum);
        // last-modified is big-endian on the wire
        var raw = full.Metadata.Lookup(Summary.LastModifiedKey)!.GetUInt64();
        Assert.Equal((ulong)when.ToUnixTimeSeconds(), System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(raw));
    }

    [Fact]
    public void SummaryWriter_RejectsDuplicateRefs()
    {
        var c = Checksum.Compute("c"u8);
        Assert.Throws<ArgumentException>(() => SummaryWriter.Write([new SummaryRef("a", c, 1), new SummaryRef("a", c, 1)], []));
    }

    [Fact]
    public void Summary_Parse_RejectsNonNormalForm()
    {
        var bytes = SummaryWriter.Write([new SummaryRef("a", Checksum.Compute("c"u8), 1)], []);
        var tampered = bytes.Concat(new byte[] { 0 }).ToArray();
        Assert.Throws<FormatException>(() => Summary.Parse(tampered));
    }

    [Fact]
    public void DeltaIndex_KeepsOnlyDeltasOfTheTarget_SortedByFrom()
    {
        var to = Checksum.Compute("to"u8);
        var other = Checksum.Compute("other"u8);
        var f1 = Checksum.Parse(new string('1', 64));
        var f2 = Checksum.Parse(new string('2', 64));
        var deltas = new[]
        {
            new SummaryDelta(new DeltaName(f2, to), Checksum.Compute("a"u8)),
            new SummaryDelta(new DeltaName(f1, other), Checksum.Compute("b"u8)),
            new SummaryDelta(new DeltaName(null, to), Checksum.Compute("c"u8)),
            new SummaryDelta(new DeltaName(f1, to), Checksum.Compute("d"u8)),
        };
        var parsed = DeltaIndex.Parse(DeltaIndex.Write(to, deltas));
        Assert.Equal([new DeltaName(null, to), new DeltaName(f1, to), new DeltaName(f2, to)], parsed.Select(d => d.Name));
    }

    [Fact]
    public void RepoConfig_PreservesUnknownContentAndEditsInPlace()
    {
        const string text = "# comment\n[core]\nrepo_version=1\nmode=archive-z2\n\n[remote \"x\"]\nurl=http://h/\n";
        var cfg = RepoConfig.Parse(text);
        Assert.Equal(text, cfg.ToString());
        Assert.True(cfg.IsArchive);
        Assert.False(cfg.IndexedDeltas);
        cfg.IndexedDeltas = true;
        Assert.Equal("# comment\n[core]\nrepo_version=1\nmode=archive-z2\nindexed-deltas=true\n\n[remote \"x\"]\nurl=http://h/\n", cfg.ToString());
        cfg.Set("core", "mode", "bare");
        Assert.False(cfg.IsArchive);
        cfg.Set("new", "k", "v");
        Assert.EndsWith("[new]\nk=v\n", cfg.ToString());
        Assert.Equal("http://h/", cfg.Get("remote \"x\"", "url"));
        Assert.Throws<FormatException>(() => RepoConfig.Parse("key=outside-group\n"));
    }

    [Fact]
    public void ArchiveRepository_Create_IsAnEmptyArchiveRepository()
    {
        using var tmp = new TempDirectory();
        var repo = ArchiveRepository.Create(tmp.Combine("r"));
        Assert.True(repo.IsArchive);
        Assert.Empty(repo.ListRefs());
        Assert.Empty(repo.ListDeltas());
        var r = OstreeCli.TryRun("refs", "--repo=" + repo.Root);
        Assert.True(r.ExitCode == 0, r.StdErr);
    }

    [Theory]
    [InlineData("main", true)]
    [InlineData("os/x86_64/stable", true)]
    [InlineData("../x", false)]
    [InlineData("a//b", false)]
    [InlineData("/a", false)]
    [InlineData("a/", false)]
    [InlineData("", false)]
    [InlineData(".hidden", false)]
    [InlineData("a/-b", false)]
    [InlineData("a b", false)]
    [InlineData("exampleos/x86_64/1.0-rc_2", true)]
    public void IsValidRefName(string name, bool valid) => Assert.Equal(valid, ArchiveRepository.IsValidRefName(name));

    [Fact]
    public void DeltaName_RelativePaths_RoundTrip_WithPlusAndUnderscore()
    {
        var rng = new Random(5);
        var sawPlus = false;
        var sawUnderscore = false;
        for (var i = 0; i < 200; i++)
        {
            var bytes = new byte[64];
            rng.NextBytes(bytes);
            var from = Checksum.FromBytes(bytes.AsSpan(0, 32));
            var to = Checksum.FromBytes(bytes.AsSpan(32));
            foreach (var name in new[] { new DeltaName(from, to), new DeltaName(null, to) })
            {
                sawPlus |= name.RelativeDirectory.Contains('+');
                sawUnderscore |= name.RelativeDirectory.Contains('_');
                Assert.True(DeltaName.TryParseRelativePath(name.RelativeDirectory, out var a));
                Assert.True(DeltaName.TryParseRelativePath(name.SuperblockRelativePath, out var b));
                Assert.True(DeltaName.TryParseRelativePath(name.PartRelativePath(3), out var c));
                Assert.Equal(name, a);
                Assert.Equal(name, b);
                Assert.Equal(name, c);
            }
        }
        Assert.True(sawPlus && sawUnderscore);
        Assert.False(DeltaName.TryParseRelativePath("deltas/ab/short", out _));
        Assert.False(DeltaName.TryParseRelativePath("deltas/ab/" + new string('A', 41) + "/stats.json", out _));
        Assert.False(DeltaName.TryParseRelativePath("objects/ab/" + new string('A', 41), out _));
    }
}
