using System.Security.Cryptography;
using OtaServer.OSTree.StaticDeltas;

namespace OtaServer.OSTree.Tests.StaticDeltas;

/// <summary>
/// Deltas made by <see cref="DeltaCompiler"/> are read, applied and verified by the real ostree client.
/// </summary>
public sealed class DeltaCompilerTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>
    /// Two trees exercising every path: literal files, an executable, an empty file, symlinks, a user
    /// xattr, a binary with a small insertion (rollsum), a binary with scattered edits (bsdiff), a big
    /// file over the fallback threshold and a file larger than one part.
    /// </summary>
    private (string Repo, Checksum V1, Checksum V2, string TreeV1, string TreeV2) BuildRepo()
    {
        var repo = _dir.Combine("repo");
        OstreeCli.Run("init", "--mode=archive", $"--repo={repo}");
        var v1 = _dir.Combine("v1");
        var v2 = _dir.Combine("v2");
        foreach (var (tree, gen) in new[] { (v1, 1), (v2, 2) })
        {
            TreeBuilder.Write(tree, "etc/os-release", System.Text.Encoding.ASCII.GetBytes($"NAME=Test\nVERSION={gen}\n"));
            TreeBuilder.Write(tree, "etc/empty", []);
            TreeBuilder.Write(tree, "usr/bin/tool", TreeBuilder.TextBytes(10 + gen, 40_000), TreeBuilder.Executable);
            TreeBuilder.Symlink(tree, "usr/bin/tool-link", gen == 1 ? "tool" : "./tool");
            TreeBuilder.Symlink(tree, "usr/lib/os-release", "../../etc/os-release");
            TreeBuilder.Write(tree, "usr/share/doc/readme.txt", TreeBuilder.TextBytes(20, 20_000));
            TreeBuilder.Write(tree, "usr/share/xattr.txt", System.Text.Encoding.ASCII.GetBytes($"labelled {gen}\n"));
            OstreeCli.SetXattr(Path.Combine(tree, "usr/share/xattr.txt"), "user.ota-label", $"value-{gen}");

            // Rollsum: 400 KB of random data; v2 inserts 100 bytes in the middle.
            var lib = TreeBuilder.RandomBytes(30, 400_000);
            if (gen == 2)
                lib = [.. lib.AsSpan(0, 200_000), .. TreeBuilder.RandomBytes(31, 100), .. lib.AsSpan(200_000)];
            TreeBuilder.Write(tree, "usr/lib/libfoo.so.1", lib);

            // bsdiff: every 1000th byte changed, so no 8 KB chunk survives but bsdiff finds the alignment.
            var data = TreeBuilder.RandomBytes(40, 150_000);
            if (gen == 2)
            {
                for (int i = 0; i < data.Length; i += 1000)
                    data[i] ^= 0x5A;
            }

            TreeBuilder.Write(tree, "usr/lib/firmware/blob.bin", data);

            // Fallback (threshold 1 MB in the tests) and larger-than-a-part (max part 256 KB) files.
            TreeBuilder.Write(tree, "usr/share/big/fallback.img", TreeBuilder.RandomBytes(50 + gen, 1_500_000));
            TreeBuilder.Write(tree, "usr/share/big/large.txt", TreeBuilder.TextBytes(60 + gen, 700_000));

            // Enough small files to need several parts.
            for (int i = 0; i < 40; i++)
                TreeBuilder.Write(tree, $"usr/share/many/file{i:D2}.dat", TreeBuilder.RandomBytes(1000 * gen + i, 20_000));
        }

        TreeBuilder.Write(v2, "usr/bin/new-tool", TreeBuilder.TextBytes(70, 5_000), TreeBuilder.Executable);
        TreeBuilder.Write(v2, "var/lib/new/empty2", []);
        TreeBuilder.Write(v2, "usr/share/big/added.img", TreeBuilder.RandomBytes(80, 1_200_000)); // no similar old file: a fallback

        var c1 = TestCommits.Commit(repo, v1, "os/main", "v1");
        var c2 = TestCommits.Commit(repo, v2, "os/main", "v2");
        return (repo, c1, c2, v1, v2);
    }

    private static readonly DeltaOptions SmallOptions = new()
    {
        MaxPartSize = 256_000,
        MinFallbackSize = 1_000_000,
    };

    private static async Task<DeltaResult> GenerateIntoRepoAsync(string repo, Checksum? from, Checksum to, DeltaOptions options)
    {
        var staging = Path.Combine(repo, "tmp", "delta-" + Guid.NewGuid().ToString("N"));
        var result = await DeltaCompiler.GenerateAsync(repo, from, to, staging, options);
        var target = Path.Combine(repo, result.RelativePath);
        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
        Directory.Move(staging, target);
        return result;
    }

    private string CheckoutAndCompare(string client, Checksum commit, string expectedTree)
    {
        var checkout = _dir.Combine("checkout-" + commit.ToString()[..8]);
        OstreeCli.Run($"--repo={client}", "checkout", "-U", commit.ToString(), checkout);
        TreeBuilder.AssertSameTree(expectedTree, checkout);
        return checkout;
    }

    [Fact]
    public async Task FromToDeltaIsShownAndAppliedOfflineByTheRealClientUsingEveryStrategy()
    {
        var (repo, v1, v2, _, treeV2) = BuildRepo();
        var options = SmallOptions with { MinFallbackSize = 0 };

        var result = await GenerateIntoRepoAsync(repo, v1, v2, options);

        Assert.True(result.RollsumCount >= 1, $"rollsum count {result.RollsumCount}");
        Assert.True(result.BsdiffCount >= 1, $"bsdiff count {result.BsdiffCount}");
        Assert.True(result.LiteralCount >= 1, $"literal count {result.LiteralCount}");
        Assert.True(result.Parts >= 3, $"parts {result.Parts}");
        Assert.Equal(0, result.FallbackCount);

        var show = OstreeCli.Run($"--repo={repo}", "static-delta", "show", $"{v1}-{v2}");
        Assert.Contains($"Number of parts: {result.Parts}", show);
        Assert.Contains("Endianness: little", show);
        var superblock = GVariant.Parse("(a{sv}tayay(a{sv}aya(say)sstayay)aya(uayttay)a(yaytt))",
            File.ReadAllBytes(Path.Combine(repo, result.RelativePath, "superblock")));
        Assert.Contains(superblock[6].Items, h => h[3].GetUInt64() > (ulong)options.MaxPartSize); // the 700 KB file fills a part alone

        var client = _dir.Combine("client");
        OstreeCli.Run("init", "--mode=bare-user", $"--repo={client}");
        OstreeCli.Run($"--repo={client}", "pull-local", repo, v1.ToString());
        OstreeCli.Run($"--repo={client}", "static-delta", "apply-offline", Path.Combine(repo, result.RelativePath, "superblock"));
        OstreeCli.Run($"--repo={client}", "fsck");
        CheckoutAndCompare(client, v2, treeV2);
    }

    [Theory]
    [InlineData(2, 0)]          // defaults: two lanes, one xz block per part
    [InlineData(1, 100_000)]    // one lane, multi-block (multi-threaded) xz parts
    public async Task FromScratchDeltaIsAppliedIntoAnEmptyClient(int parallelParts, long xzBlockSize)
    {
        var (repo, _, v2, _, treeV2) = BuildRepo();

        var result = await GenerateIntoRepoAsync(repo, null, v2,
            SmallOptions with { MinFallbackSize = 0, ParallelParts = parallelParts, XzBlockSize = xzBlockSize });

        Assert.Equal(0, result.RollsumCount + result.BsdiffCount);
        Assert.StartsWith("deltas/" + v2.ToMb64()[..2] + "/" + v2.ToMb64()[2..], result.RelativePath);
        var show = OstreeCli.Run($"--repo={repo}", "static-delta", "show", v2.ToString());
        Assert.Contains($"Number of parts: {result.Parts}", show);

        var client = _dir.Combine("client");
        OstreeCli.Run("init", "--mode=bare-user", $"--repo={client}");
        OstreeCli.Run($"--repo={client}", "static-delta", "apply-offline", Path.Combine(repo, result.RelativePath, "superblock"));
        OstreeCli.Run($"--repo={client}", "fsck");
        CheckoutAndCompare(client, v2, treeV2);
    }

    /// <summary>Issue 10, acceptance 3: our sizes are the ones the real client's <c>static-delta show</c> prints.</summary>
    [Fact]
    public async Task RequiredAndDownloadBytes_EqualTheTotalsOstreeStaticDeltaShowPrints_FallbacksIncluded()
    {
        var (repo, v1, v2, _, _) = BuildRepo();
        var result = await GenerateIntoRepoAsync(repo, v1, v2, SmallOptions);
        Assert.True(result.FallbackCount >= 1, $"fallback count {result.FallbackCount}");

        var show = OstreeCli.Run($"--repo={repo}", "static-delta", "show", $"{v1}-{v2}");
        long Printed(string label)
        {
            var line = show.Split('\n').Single(l => l.StartsWith(label + ": ", StringComparison.Ordinal));
            return long.Parse(line[(label.Length + 2)..].Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
        }
        Assert.Equal(Printed("Total Uncompressed Size"), result.RequiredBytes);
        Assert.Equal(Printed("Total Size"), result.DownloadBytes);
        Assert.Equal(Printed("Total Fallback Uncompressed Size"), result.FallbackUncompressedBytes);
        Assert.True(result.RequiredBytes > result.UncompressedBytes, "the fallbacks count in the bytes to write");
        var sizes = DeltaSizes.FromSuperblock(File.ReadAllBytes(Path.Combine(repo, result.RelativePath, "superblock")));
        Assert.Equal(result.RequiredBytes, sizes.TotalUncompressedSize);
        Assert.Equal(result.DownloadBytes, sizes.TotalSize);
    }

    [Fact]
    public async Task DeltaWithFallbacksIsPulledOverHttpWithRequiredStaticDeltas()
    {
        var (repo, v1, v2, _, treeV2) = BuildRepo();

        var result = await GenerateIntoRepoAsync(repo, v1, v2, SmallOptions);

        Assert.True(result.FallbackCount >= 1, $"fallback count {result.FallbackCount}");
        Assert.True(result.FallbackBytes > 1_000_000);
        OstreeCli.Run($"--repo={repo}", "summary", "-u");

        using var server = new StaticHttpServer(repo);
        var client = _dir.Combine("client");
        OstreeCli.Run("init", "--mode=bare-user", $"--repo={client}");
        OstreeCli.Run($"--repo={client}", "remote", "add", "--no-gpg-verify", "origin", server.Url);
        OstreeCli.Run($"--repo={client}", "pull-local", repo, v1.ToString());
        OstreeCli.Run($"--repo={client}", "pull", "--require-static-deltas", "origin", "os/main");
        Assert.Equal(v2.ToString(), OstreeCli.Run($"--repo={client}", "rev-parse", "origin:os/main").Trim());
        OstreeCli.Run($"--repo={client}", "fsck");
        CheckoutAndCompare(client, v2, treeV2);
    }

    [Fact]
    public async Task GeneratingTwiceGivesIdenticalBytes()
    {
        var (repo, v1, v2, _, _) = BuildRepo();
        var a = _dir.Combine("a");
        var b = _dir.Combine("b");

        var ra = await DeltaCompiler.GenerateAsync(repo, v1, v2, a, SmallOptions);
        var rb = await DeltaCompiler.GenerateAsync(repo, v1, v2, b, SmallOptions with { Threads = 1 });

        Assert.Equal(ra.SuperblockChecksum, rb.SuperblockChecksum);
        var files = Directory.GetFiles(a).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(files, Directory.GetFiles(b).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList());
        foreach (var f in files)
            Assert.Equal(SHA256.HashData(File.ReadAllBytes(Path.Combine(a, f!))), SHA256.HashData(File.ReadAllBytes(Path.Combine(b, f!))));
    }

    [Fact]
    public async Task CommitMetaOfTheTargetTravelsInTheSuperblock()
    {
        var (repo, v1, v2, _, _) = BuildRepo();
        // A detached-metadata object as `ostree gpg-sign`/`sign` would write it.
        var meta = GVariant.VarDict(("ota.test", GVariant.String("signed-by-test"))).Serialize();
        File.WriteAllBytes(Path.Combine(repo, "objects", v2.ToString()[..2], v2.ToString()[2..] + ".commitmeta"), meta);

        var result = await GenerateIntoRepoAsync(repo, v1, v2, SmallOptions with { MinFallbackSize = 0 });

        var superblock = GVariant.Parse("(a{sv}tayay(a{sv}aya(say)sstayay)aya(uayttay)a(yaytt))",
            File.ReadAllBytes(Path.Combine(repo, result.RelativePath, "superblock")));
        Assert.True(superblock[0].TryLookup(result.RelativePath + "/commitmeta", out var carried));
        Assert.Equal(meta, carried.Serialize());
        Assert.Equal((byte)'l', superblock[0].Lookup("ostree.endianness")!.GetByte());

        var client = _dir.Combine("client");
        OstreeCli.Run("init", "--mode=bare-user", $"--repo={client}");
        OstreeCli.Run($"--repo={client}", "pull-local", repo, v1.ToString());
        OstreeCli.Run($"--repo={client}", "static-delta", "apply-offline", Path.Combine(repo, result.RelativePath, "superblock"));
        OstreeCli.Run($"--repo={client}", "fsck");
    }

    /// <summary>Cancels synchronously from inside the compiler's progress report.</summary>
    private sealed class CancelOn(string text, CancellationTokenSource cts) : IProgress<string>
    {
        public void Report(string value)
        {
            if (value.Contains(text, StringComparison.Ordinal))
                cts.Cancel();
        }
    }

    [Fact]
    public async Task GenerationCancelledWhileRunningStopsAndWritesNoSuperblock()
    {
        var (repo, v1, v2, _, _) = BuildRepo();
        using var cts = new CancellationTokenSource();
        var output = _dir.Combine("cancelled");

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            DeltaCompiler.GenerateAsync(repo, v1, v2, output, SmallOptions, new CancelOn("similar old file", cts), cts.Token));

        Assert.False(File.Exists(Path.Combine(output, "superblock")));
    }

    [Fact]
    public async Task CancelledGenerationThrowsAndWritesNoSuperblock()
    {
        var (repo, v1, v2, _, _) = BuildRepo();
        using var cts = new CancellationTokenSource();
        await cts.CancelAsync();
        var output = _dir.Combine("cancelled");

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => DeltaCompiler.GenerateAsync(repo, v1, v2, output, SmallOptions, null, cts.Token));

        Assert.False(File.Exists(Path.Combine(output, "superblock")));
    }
}
