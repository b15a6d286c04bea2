using OtaServer.OSTree.StaticDeltas;

namespace OtaServer.OSTree.Tests.StaticDeltas;

public sealed class RollsumTests
{
    private static byte[] RandomBytes(int length, int seed)
    {
        var data = new byte[length];
        new Random(seed).NextBytes(data);
        return data;
    }

    private static byte[] Rebuild(ReadOnlySpan<byte> source, ReadOnlySpan<byte> target, RollsumMatchResult result)
    {
        var output = new List<byte>();
        long expectedOffset = 0;
        foreach (var region in result.Regions)
        {
            Assert.Equal(expectedOffset, region.TargetOffset);
            Assert.True(region.Length > 0);
            output.AddRange(region.Kind == RollsumRegionKind.Copy
                ? source.Slice((int)region.SourceOffset, (int)region.Length).ToArray()
                : target.Slice((int)region.TargetOffset, (int)region.Length).ToArray());
            expectedOffset += region.Length;
        }

        Assert.Equal(target.Length, expectedOffset);
        return output.ToArray();
    }

    [Fact]
    public void Crc32MatchesZlibCheckValue()
    {
        Assert.Equal(0xCBF43926u, Crc32.Compute("123456789"u8));
        Assert.Equal(0u, Crc32.Compute([]));
        var data = RandomBytes(1001, 9);
        Assert.Equal(Crc32.Compute(data), Crc32.Update(Crc32.Compute(data.AsSpan(0, 333)), data.AsSpan(333)));
    }

    [Fact]
    public void BoundaryFollowsTheBupRollingSumDefinition()
    {
        // Straight transcription of §8.3 with a ring buffer, used as an oracle.
        static int Oracle(byte[] data)
        {
            var window = new byte[64];
            uint s1 = 64 * 31, s2 = 64 * 63 * 31;
            for (var i = 0; i < data.Length; i++)
            {
                uint d = window[i % 64];
                s1 += data[i] - d;
                s2 += s1 - (64 * (d + 31));
                window[i % 64] = data[i];
                if ((s2 & 0x1FFF) == 0x1FFF)
                {
                    return i + 1;
                }
            }

            return 0;
        }

        for (var seed = 0; seed < 20; seed++)
        {
            var data = RandomBytes(40_000, seed);
            Assert.Equal(Oracle(data), Rollsum.FindBoundary(data));
        }

        Assert.Equal(0, Rollsum.FindBoundary(new byte[100_000]));
    }

    [Fact]
    public void ChunksTileTheInputAverageAboutEightKilobytesAndNeverExceed32KiB()
    {
        var data = RandomBytes(2_000_000, 1);
        var chunks = Rollsum.Chunk(data);

        long offset = 0;
        foreach (var chunk in chunks)
        {
            Assert.Equal(offset, chunk.Offset);
            Assert.InRange(chunk.Length, 1, Rollsum.MaxChunkSize);
            Assert.Equal(Crc32.Compute(data.AsSpan((int)chunk.Offset, chunk.Length)), chunk.Crc32);
            offset += chunk.Length;
        }

        Assert.Equal(data.Length, offset);
        Assert.InRange(data.Length / chunks.Count, 5000, 12000);
        Assert.Empty(Rollsum.Chunk([]));
    }

    [Fact]
    public void DataWithoutBoundariesIsCutInto32KiBPieces()
    {
        var chunks = Rollsum.Chunk(new byte[100_000]);
        Assert.Equal([32768, 32768, 32768, 1696], chunks.Select(c => c.Length));
    }

    [Fact]
    public void InsertedBlockLeavesMostChunksMatchedAndRegionsRebuildTheTarget()
    {
        var source = RandomBytes(1_000_000, 2);
        var insert = RandomBytes(20_000, 3);
        byte[] target = [.. source.AsSpan(0, 400_000), .. insert, .. source.AsSpan(400_000)];

        var result = RollsumMatcher.Match(source, target);

        Assert.Equal(target, Rebuild(source, target, result));
        Assert.True(result.MatchedPercent > 90, $"matched {result.MatchedPercent:F1} %");
        Assert.True(result.IsWorthUsing);
        Assert.True(result.MatchedBytes > 950_000);
        // Merged: a copy before the insert, a literal around it, a copy after.
        Assert.InRange(result.Regions.Count, 3, 5);
        Assert.Equal(RollsumRegionKind.Copy, result.Regions[0].Kind);
        Assert.Equal(0, result.Regions[0].SourceOffset);
    }

    [Fact]
    public void UnrelatedDataIsNotWorthUsingAndIsOneLiteral()
    {
        var source = RandomBytes(300_000, 4);
        var target = RandomBytes(300_000, 5);
        var result = RollsumMatcher.Match(source, target);

        Assert.False(result.IsWorthUsing);
        Assert.Equal(0, result.MatchedChunks);
        var single = Assert.Single(result.Regions);
        Assert.Equal(new RollsumRegion(RollsumRegionKind.Literal, 0, -1, target.Length), single);
    }

    [Fact]
    public void ReorderedBlocksAreCopiedFromTheirSourceOffsets()
    {
        var a = RandomBytes(200_000, 6);
        var b = RandomBytes(200_000, 7);
        byte[] source = [.. a, .. b];
        byte[] target = [.. b, .. a];

        var result = RollsumMatcher.Match(source, target);

        Assert.Equal(target, Rebuild(source, target, result));
        Assert.True(result.IsWorthUsing);
        Assert.Contains(result.Regions, r => r.Kind == RollsumRegionKind.Copy && r.SourceOffset >= 200_000);
    }

    [Fact]
    public void EmptyTargetHasNoChunksAndIsNotWorthUsing()
    {
        var result = RollsumMatcher.Match(RandomBytes(1000, 8), []);
        Assert.Equal(0, result.TargetChunks);
        Assert.Empty(result.Regions);
        Assert.False(result.IsWorthUsing);
    }
}

public sealed class StaticDeltaAlgorithmConcurrencyTests
{
    [Fact]
    public void AlgorithmsRunConcurrentlyWithIdenticalResults()
    {
        var random = new Random(21);
        var oldData = new byte[300_000];
        random.NextBytes(oldData);
        var newData = BsDiffTests.EditedCopy(oldData, random, 10);
        var options = new XzOptions { Threads = 1, Preset = 2 };

        var expectedPatch = BsDiff.CreatePatch(oldData, newData);
        var expectedXz = XzCompressor.Compress(newData, options);
        var expectedRegions = RollsumMatcher.Match(oldData, newData).Regions;

        Parallel.For(0, 8, _ =>
        {
            Assert.Equal(expectedPatch, BsDiff.CreatePatch(oldData, newData));
            Assert.Equal(expectedXz, XzCompressor.Compress(newData, options));
            Assert.Equal(expectedRegions, RollsumMatcher.Match(oldData, newData).Regions);
        });
    }
}

public sealed class RollsumEquivalenceTests
{
    // libostree's rollsum_chunks_crc32 transcribed literally (full rescan from every chunk start).
    private static List<(long Offset, int Length)> LiteralChunks(byte[] data)
    {
        var result = new List<(long, int)>();
        var start = 0;
        var end = false;
        while (start < data.Length)
        {
            var remaining = data.Length - start;
            int offset;
            if (!end)
            {
                offset = Rollsum.FindBoundary(data.AsSpan(start));
                if (offset == 0)
                {
                    end = true;
                    offset = Math.Min(Rollsum.MaxChunkSize, remaining);
                }
                else if (offset > Rollsum.MaxChunkSize)
                {
                    offset = Rollsum.MaxChunkSize;
                }
            }
            else
            {
                offset = Math.Min(Rollsum.MaxChunkSize, remaining);
            }

            result.Add((start, offset));
            start += offset;
        }

        return result;
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void ChunkingEqualsTheLiteralLibostreeLoopOnSparseBoundaryData(int seed)
    {
        // Mostly zeros (no boundaries) with random islands: boundaries far apart, forcing 32 KiB cuts
        // followed by rescans — the case the prefix-only rescan optimises.
        var random = new Random(seed);
        var data = new byte[3_000_000];
        for (var island = 0; island < 40; island++)
        {
            var at = random.Next(data.Length - 5000);
            random.NextBytes(data.AsSpan(at, random.Next(1, seed == 3 ? 70 : 5000)));
        }

        var expected = LiteralChunks(data);
        var capped = Enumerable.Range(0, expected.Count - 1)
            .Count(i => expected[i].Length == Rollsum.MaxChunkSize && expected[i + 1].Length < Rollsum.MaxChunkSize);
        Assert.True(capped > 0, "the data must contain boundaries more than 32 KiB apart");
        var actual = Rollsum.Chunk(data).Select(c => (c.Offset, c.Length)).ToList();
        Assert.Equal(expected, actual);
    }

    [Fact]
    public void ChunkingEqualsTheLiteralLoopOnTextLikeData()
    {
        var data = XzTests.TextLikeData(1_000_000, 17);
        Assert.Equal(LiteralChunks(data), Rollsum.Chunk(data).Select(c => (c.Offset, c.Length)).ToList());
    }
}
