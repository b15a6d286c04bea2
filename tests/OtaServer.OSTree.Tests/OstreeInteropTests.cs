using System.Text;
using OtaServer.OSTree.Tests.Infrastructure;

namespace OtaServer.OSTree.Tests;

/// <summary>Parses bytes written by the real ostree 2022.7 CLI and feeds our bytes back to it.</summary>
public sealed class OstreeInteropTests(OstreeRepoFixture fx) : IClassFixture<OstreeRepoFixture>
{
    [Fact]
    public void EveryMetadataObject_ParsesReserializesByteForByte_AndHashesToItsName()
    {
        int counted = 0;
        foreach (var (name, path) in fx.AllObjects().Where(o => o.Name.Type.IsMetadata()))
        {
            var bytes = File.ReadAllBytes(path);
            byte[] again = name.Type switch
            {
                ObjectType.Commit => Commit.Parse(bytes).Serialize(),
                ObjectType.DirTree => DirTree.Parse(bytes).Serialize(),
                ObjectType.DirMeta => DirMeta.Parse(bytes).Serialize(),
                _ => GVariant.ParseNormalForm(GVariantType.VarDict, bytes).Serialize(),
            };
            Assert.Equal(bytes, again);
            if (name.Type != ObjectType.CommitMeta)
                Assert.Equal(name.Checksum, Checksum.Compute(bytes));
            ObjectVerifier.VerifyMetadata(name, bytes);
            counted++;
        }
        Assert.True(counted >= 10, $"only {counted} metadata objects");
        Assert.Equal(fx.AllObjects().Select(o => o.Name).Order().ToArray(), fx.Repo.EnumerateObjects().Order().ToArray());
    }

    [Fact]
    public void EveryContentObject_Verifies_AndItsHeaderReserializesByteForByte()
    {
        int counted = 0;
        foreach (var (name, path) in fx.AllObjects().Where(o => o.Name.Type == ObjectType.File))
        {
            var bytes = File.ReadAllBytes(path);
            var verified = ObjectVerifier.Verify(name, new MemoryStream(bytes));
            Assert.Equal(bytes.Length, verified.StoredSize);
            var (header, size) = ContentObject.ReadArchiveHeader(new MemoryStream(bytes));
            var prefix = FileHeader.LengthPrefixed(header.SerializeArchiveHeader(size));
            Assert.Equal(bytes.AsSpan(0, prefix.Length).ToArray(), prefix);

            // Our own .filez of the same content names the same object (checksum recomputed from our bytes).
            using var reader = ContentObject.OpenArchive(new MemoryStream(bytes));
            var content = new MemoryStream();
            reader.Content.CopyTo(content);
            var ours = ContentObject.CreateArchive(header, content.ToArray());
            Assert.Equal(name, ObjectVerifier.Verify(name, new MemoryStream(ours)).Name);
            counted++;
        }
        Assert.True(counted >= 8, $"only {counted} content objects");
    }

    [Fact]
    public void Commit_FieldsMatchWhatOstreeCommitWrote()
    {
        var parent = fx.Repo.ReadCommit(fx.StableParent);
        Assert.Null(parent.Parent);
        Assert.Equal("first", parent.Subject);
        Assert.Equal("the first commit", parent.Body);
        Assert.Equal("1.0", parent.Version);
        Assert.Equal(new DateTimeOffset(2024, 1, 2, 3, 4, 5, TimeSpan.Zero), parent.TimestampUtc);
        var tip = fx.Repo.ReadCommit(fx.Stable);
        Assert.Equal(fx.StableParent, tip.Parent);
        Assert.Equal("2.0", tip.Version);
        Assert.Equal([OstreeRepoFixture.StableRef], tip.Metadata.Lookup("ostree.ref-binding")!.Items.Select(i => i.GetString()));
        var log = OstreeCli.Run("log", "--repo=" + fx.RepoPath, OstreeRepoFixture.StableRef);
        Assert.Contains(fx.StableParent.ToString(), log);
    }

    [Fact]
    public void WalkTree_SeesTheFileTypesOstreeRecorded()
    {
        var entries = fx.Repo.WalkTree(fx.Stable, withFileSizes: true).ToDictionary(e => e.Path);
        Assert.True(entries[""].IsDirectory);
        Assert.True(entries["a/b/c"].IsDirectory);
        Assert.Equal(5, entries["a/b/c/deep.txt"].Size);
        Assert.Equal("deep.txt", entries["a/b/c/deep.txt"].Name);
        var link = entries["bin/link"].Header!;
        Assert.True(link.IsSymlink);
        Assert.Equal("tool", link.SymlinkTarget);
        Assert.Equal(0x81EDu, entries["bin/tool"].Header!.Mode); // 0o100755
        Assert.Equal(1000u, entries["bin/tool"].Header!.Uid);
        Assert.Equal(0, entries["empty"].Size);
        Assert.Equal(300 * 1024, entries["big.bin"].Size);
        if (fx.HasXattr)
        {
            var x = Assert.Single(entries["etc/xattr.conf"].Header!.Xattrs, a => a.NameString == "user.test");
            Assert.Equal("xattr-value", Encoding.UTF8.GetString(x.Value.Span));
            Assert.Equal(0, x.Name.Span[^1]);
        }
        using var content = fx.Repo.ReadContent(entries["a/b/c/deep.txt"].Object.Checksum);
        Assert.Equal("deep\n", new StreamReader(content.Content).ReadToEnd());
    }

    [Fact]
    public void WalkCommit_ListsEveryReachableObject_AndReportsMissingOnes()
    {
        var walk = fx.Repo.WalkCommit(fx.Stable);
        Assert.True(walk.IsComplete);
        Assert.Equal(new ObjectName(fx.Stable, ObjectType.Commit), walk.Present[0]);
        Assert.Contains(new ObjectName(fx.Stable, ObjectType.CommitMeta), walk.Present);
        Assert.Equal(walk.Present.Count, walk.Present.Distinct().Count());
        Assert.DoesNotContain(new ObjectName(fx.StableParent, ObjectType.Commit), walk.Present);
        // Same set ostree itself reports (ls -R gives every path; compare the file count).
        var files = fx.Repo.WalkTree(fx.Stable).Where(e => !e.IsDirectory).Select(e => e.Object).Distinct().Count();
        Assert.Equal(files, walk.Present.Count(n => n.Type == ObjectType.File));

        using var tmp = new TempDirectory();
        var copy = new ArchiveRepository(fx.CopyRepo(tmp));
        var victim = walk.Present.First(n => n.Type == ObjectType.File);
        File.Delete(copy.ObjectPath(victim));
        var broken = copy.WalkCommit(fx.Stable);
        Assert.Equal([victim], broken.Missing);
        Assert.False(broken.IsComplete);
    }

    [Fact]
    public void Refs_AreListedSortedAndResolve()
    {
        var refs = fx.Repo.ListRefs();
        Assert.Equal([OstreeRepoFixture.MainRef, OstreeRepoFixture.StableRef], refs.Select(r => r.Name));
        Assert.Equal(fx.Stable, fx.Repo.ResolveRef(OstreeRepoFixture.StableRef));
        Assert.Null(fx.Repo.ResolveRef("nope"));
        Assert.Throws<ArgumentException>(() => fx.Repo.ResolveRef("../config"));
        Assert.True(fx.Repo.IsArchive);
    }

    [Fact]
    public void Summary_FromOstree_ParsesAndReserializesByteForByte()
    {
        var bytes = File.ReadAllBytes(Path.Combine(fx.RepoPath, "summary"));
        var summary = fx.Repo.ReadSummary()!;
        Assert.Equal(bytes, summary.Serialize());
        Assert.True(summary.RefsSorted);
        Assert.True(summary.IndexedDeltas);
        Assert.Equal("archive-z2", summary.Mode);
        Assert.NotNull(summary.LastModified);
        var stable = summary.FindRef(OstreeRepoFixture.StableRef)!;
        Assert.Equal(fx.Stable, stable.Commit);
        Assert.Equal("2.0", stable.Version);
        Assert.Equal((ulong)new FileInfo(fx.Repo.ObjectPath(new ObjectName(fx.Stable, ObjectType.Commit))).Length, stable.CommitSize);
        Assert.Equal(fx.Repo.ReadCommit(fx.Stable).Timestamp, stable.CommitTimestamp);

        // Deltas in the summary are exactly the superblocks on disk with their SHA-256.
        var onDisk = fx.Repo.ListDeltasWithDigests().OrderBy(d => d.Name.ToString()).ToArray();
        Assert.Equal(2, onDisk.Length);
        Assert.Equal(onDisk, summary.Deltas.OrderBy(d => d.Name.ToString()).ToArray());
        Assert.Contains(onDisk, d => d.Name == new DeltaName(fx.StableParent, fx.Stable));
        Assert.Contains(onDisk, d => d.Name == new DeltaName(null, fx.Main));
    }

    [Fact]
    public void SummaryWriter_ProducesWhatOstreeWouldList_AndOstreeAcceptsIt()
    {
        using var tmp = new TempDirectory();
        var copy = new ArchiveRepository(fx.CopyRepo(tmp));
        var bytes = SummaryWriter.Write(copy.ListSummaryRefs(), copy.ListDeltasWithDigests(),
            new SummaryOptions { LastModified = DateTimeOffset.UtcNow });
        File.WriteAllBytes(Path.Combine(copy.Root, "summary"), bytes);
        var ours = Summary.Parse(bytes);
        var theirs = Summary.Parse(File.ReadAllBytes(Path.Combine(fx.RepoPath, "summary")));
        Assert.Equal(theirs.Refs, ours.Refs);
        Assert.Equal(theirs.Deltas.OrderBy(d => d.Name.ToString()), ours.Deltas);
        Assert.Null(ours.Mode);
        // ostree reads our summary (refs and deltas).
        var view = OstreeCli.Run("summary", "--view", "--repo=" + copy.Root);
        Assert.Contains(OstreeRepoFixture.StableRef, view);
        Assert.Contains(fx.Stable.ToString(), view);
        Assert.Contains(new DeltaName(fx.StableParent, fx.Stable).ToString(), view);
    }

    [Fact]
    public void DeltaIndex_MatchesOstreeByteForByte()
    {
        var deltas = fx.Repo.ListDeltasWithDigests();
        foreach (var to in new[] { fx.Stable, fx.Main })
        {
            var path = Path.Combine(fx.RepoPath, DeltaName.IndexRelativePath(to));
            Assert.True(File.Exists(path), "ostree wrote " + path);
            var theirs = File.ReadAllBytes(path);
            Assert.Equal(theirs, DeltaIndex.Write(to, deltas));
            Assert.Equal(deltas.Where(d => d.Name.To == to), DeltaIndex.Parse(theirs));
            Assert.True(DeltaName.TryParseIndexRelativePath(path, out var back));
            Assert.Equal(to, back);
        }
    }

    [Fact]
    public void DeltaPaths_MatchTheDirectoriesOstreeCreated()
    {
        var dirs = Directory.EnumerateDirectories(Path.Combine(fx.RepoPath, "deltas"), "*", SearchOption.AllDirectories)
            .Where(d => File.Exists(Path.Combine(d, "superblock")))
            .Select(d => Path.GetRelativePath(fx.RepoPath, d).Replace('\\', '/'))
            .Order(StringComparer.Ordinal).ToArray();
        var ours = new[] { new DeltaName(fx.StableParent, fx.Stable), new DeltaName(null, fx.Main) }
            .Select(d => d.RelativeDirectory).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(dirs, ours);
        Assert.Equal(2, fx.Repo.ListDeltas().Count);
        Assert.True(File.Exists(Path.Combine(fx.RepoPath, DeltaPaths.Part(fx.StableParent, fx.Stable, 0)))
            || fx.Repo.ListDeltas().Count == 2);
        Assert.True(DeltaPaths.TryParse(DeltaPaths.Superblock(fx.StableParent, fx.Stable), out var from, out var to));
        Assert.Equal(fx.StableParent, from);
        Assert.Equal(fx.Stable, to);
    }

    [Fact]
    public void RepoConfig_FromOstree_RoundTripsAndOstreeReadsOurEdit()
    {
        using var tmp = new TempDirectory();
        var copy = fx.CopyRepo(tmp);
        var path = Path.Combine(copy, "config");
        var text = File.ReadAllText(path);
        var cfg = RepoConfig.Parse(text);
        Assert.Equal(text, cfg.ToString());
        Assert.True(cfg.IsArchive);
        Assert.True(cfg.IndexedDeltas); // ostree summary -u sets it
        cfg.Set("core", "indexed-deltas", "false");
        cfg.Set("x-otaserver", "note", "kept");
        cfg.Save(path);
        Assert.Equal("false", OstreeCli.Run("config", "--repo=" + copy, "get", "core.indexed-deltas").Trim());
        Assert.Equal("kept", OstreeCli.Run("config", "--repo=" + copy, "get", "x-otaserver.note").Trim());
        Assert.Equal("archive-z2", OstreeCli.Run("config", "--repo=" + copy, "get", "core.mode").Trim());
    }

    [Fact]
    public void FilezWeWrite_ReplacingEveryContentObject_PassesOstreeFsck()
    {
        using var tmp = new TempDirectory();
        var copy = new ArchiveRepository(fx.CopyRepo(tmp));
        int replaced = 0;
        foreach (var (name, _) in fx.AllObjects().Where(o => o.Name.Type == ObjectType.File))
        {
            byte[] ours;
            using (var reader = copy.ReadContent(name.Checksum))
            {
                var ms = new MemoryStream();
                reader.Content.CopyTo(ms);
                ours = ContentObject.CreateArchive(reader.Header, ms.ToArray());
            }
            File.WriteAllBytes(copy.ObjectPath(name), ours);
            replaced++;
        }
        Assert.True(replaced > 0);
        var fsck = OstreeCli.TryRun("fsck", "--repo=" + copy.Root);
        Assert.True(fsck.ExitCode == 0, fsck.StdOut + fsck.StdErr);
    }

    [Fact]
    public void CommitBuiltEntirelyByUs_PassesOstreeFsckAndChecksOut()
    {
        using var tmp = new TempDirectory();
        var repoPath = tmp.Combine("repo");
        OstreeCli.Run("init", "--repo=" + repoPath, "--mode=archive");
        var repo = new ArchiveRepository(repoPath);

        void Put(ObjectName n, byte[] bytes)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(repo.ObjectPath(n))!);
            File.WriteAllBytes(repo.ObjectPath(n), bytes);
        }

        DirTreeFile AddFile(string name, FileHeader h, byte[] content)
        {
            var c = ContentObject.ComputeChecksum(h, content);
            Put(new ObjectName(c, ObjectType.File), ContentObject.CreateArchive(h, content));
            return new DirTreeFile(name, c);
        }

        var rootMeta = new DirMeta { Mode = 0x41ED };
        var metaSum = rootMeta.ComputeChecksum();
        Put(new ObjectName(metaSum, ObjectType.DirMeta), rootMeta.Serialize());
        var sub = DirTree.Create([AddFile("inner", FileHeader.RegularFile(0, 0, 0x1A4), "inner\n"u8.ToArray())], []);
        Put(new ObjectName(sub.ComputeChecksum(), ObjectType.DirTree), sub.Serialize());
        var root = DirTree.Create(
            [
                AddFile("hello", FileHeader.RegularFile(0, 0, 0x1A4, [Xattr.Create("user.k", "v"u8.ToArray())]), "hello\n"u8.ToArray()),
                AddFile("exe", FileHeader.RegularFile(0, 0, 0x1ED), "#!/bin/sh\n"u8.ToArray()),
                AddFile("empty", FileHeader.RegularFile(0, 0, 0x1A4), []),
                AddFile("link", FileHeader.Symlink(0, 0, "hello"), []),
            ],
            [new DirTreeDir("sub", sub.ComputeChecksum(), metaSum)]);
        Put(new ObjectName(root.ComputeChecksum(), ObjectType.DirTree), root.Serialize());
        var commit = new Commit
        {
            Metadata = GVariant.VarDict(("version", GVariant.String("9.9"))),
            Subject = "built by OtaServer.OSTree",
            Timestamp = 1_700_000_000,
            RootDirTree = root.ComputeChecksum(),
            RootDirMeta = metaSum,
        };
        var commitSum = commit.ComputeChecksum();
        Put(new ObjectName(commitSum, ObjectType.Commit), commit.Serialize());
        Directory.CreateDirectory(Path.Combine(repoPath, "refs", "heads", "ours"));
        File.WriteAllText(Path.Combine(repoPath, "refs", "heads", "ours", "ref"), commitSum + "\n");

        Assert.True(repo.WalkCommit(commitSum).IsComplete);
        var fsck = OstreeCli.TryRun("fsck", "--repo=" + repoPath);
        Assert.True(fsck.ExitCode == 0, fsck.StdOut + fsck.StdErr);
        var checkout = tmp.Combine("co");
        OstreeCli.Run("checkout", "--repo=" + repoPath, "-U", "ours/ref", checkout);
        Assert.Equal("inner\n", File.ReadAllText(Path.Combine(checkout, "sub", "inner")));
        Assert.Equal("hello", new FileInfo(Path.Combine(checkout, "link")).LinkTarget);
        Assert.Equal(0, new FileInfo(Path.Combine(checkout, "empty")).Length);
        Assert.Contains("9.9", OstreeCli.Run("show", "--repo=" + repoPath, "ours/ref"));
    }
}
