using System.Buffers.Binary;
using OtaServer.OSTree.StaticDeltas;

namespace OtaServer.OSTree.Tests.StaticDeltas;

public sealed class BsDiffTests
{
    private static byte[] RoundTrip(byte[] oldData, byte[] newData)
    {
        var patch = BsDiff.CreatePatch(oldData, newData);
        var rebuilt = BsPatch.Apply(oldData, patch, newData.Length);
        Assert.True(newData.AsSpan().SequenceEqual(rebuilt), "patched output differs from the new data");
        return patch;
    }

    private static int CompressedSize(byte[] data) =>
        XzCompressor.Compress(data, new XzOptions { Threads = 1, Preset = 1 }).Length;

    internal static byte[] EditedCopy(byte[] source, Random random, int edits)
    {
        var result = new List<byte>(source);
        for (var e = 0; e < edits; e++)
        {
            var at = random.Next(result.Count);
            switch (random.Next(3))
            {
                case 0:
                    for (var k = 0; k < 16 && at + k < result.Count; k++)
                    {
                        result[at + k] = (byte)random.Next(256);
                    }

                    break;
                case 1:
                    var insert = new byte[random.Next(1, 4096)];
                    random.NextBytes(insert);
                    result.InsertRange(at, insert);
                    break;
                default:
                    result.RemoveRange(at, Math.Min(random.Next(1, 4096), result.Count - at));
                    break;
            }
        }

        return result.ToArray();
    }

    [Fact]
    public void FiveMegabytesWithEditsInsertsAndDeletionsGiveASmallPatchThatRebuildsTheNewData()
    {
        var random = new Random(42);
        var oldData = new byte[5 * 1024 * 1024];
        random.NextBytes(oldData);
        var newData = EditedCopy(oldData, random, 60);

        var patch = RoundTrip(oldData, newData);

        var compressedPatch = CompressedSize(patch);
        Assert.True(compressedPatch < newData.Length / 20, $"compressed patch {compressedPatch} bytes for {newData.Length} new bytes");
    }

    [Fact]
    public void ElfLikeBinaryWithShiftedSectionsAndRelocatedPointersDiffsCompactly()
    {
        var random = new Random(7);
        // "Code" with embedded 32-bit absolute addresses into a data section.
        const int codeSize = 400_000;
        var code = new byte[codeSize];
        random.NextBytes(code);
        var pointerSlots = Enumerable.Range(0, 5000).Select(_ => random.Next(codeSize / 4 - 1) * 4).Distinct().ToArray();
        foreach (var slot in pointerSlots)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(code.AsSpan(slot), 0x0040_0000u + (uint)random.Next(1 << 20));
        }

        var header = new byte[4096];
        random.NextBytes(header);
        var data = new byte[200_000];
        random.NextBytes(data);

        byte[] Build(byte[] codeSection, int padding)
        {
            var result = new List<byte>(header);
            result.AddRange(new byte[padding]);
            result.AddRange(codeSection);
            result.AddRange(data);
            return result.ToArray();
        }

        var oldData = Build(code, 0);
        // New version: a section grew (everything after shifts by 1234 bytes) and every address moved by 0x2000.
        var newCode = (byte[])code.Clone();
        foreach (var slot in pointerSlots)
        {
            var value = BinaryPrimitives.ReadUInt32LittleEndian(newCode.AsSpan(slot));
            BinaryPrimitives.WriteUInt32LittleEndian(newCode.AsSpan(slot), value + 0x2000);
        }

        var newData = Build(newCode, 1234);

        var patch = RoundTrip(oldData, newData);

        var compressedPatch = CompressedSize(patch);
        var compressedNew = CompressedSize(newData);
        Assert.True(compressedPatch < compressedNew / 10, $"compressed patch {compressedPatch}, compressed new {compressedNew}");
    }

    [Fact]
    public void EmptyOldYieldsOneControlBlockWithAllNewBytesAsExtra()
    {
        var newData = new byte[10_000];
        new Random(1).NextBytes(newData);
        var patch = RoundTrip([], newData);

        Assert.Equal(24 + newData.Length, patch.Length);
        Assert.Equal(0, BsDiff.ReadOffset(patch.AsSpan(0, 8)));
        Assert.Equal(newData.Length, BsDiff.ReadOffset(patch.AsSpan(8, 8)));
    }

    [Fact]
    public void EmptyNewYieldsAnEmptyPatch()
    {
        var oldData = new byte[1000];
        new Random(2).NextBytes(oldData);
        Assert.Empty(RoundTrip(oldData, []));
        Assert.Empty(RoundTrip([], []));
    }

    [Fact]
    public void IdenticalInputsGiveOneAllZeroDiffBlock()
    {
        var data = new byte[300_000];
        new Random(3).NextBytes(data);
        var patch = RoundTrip(data, data);

        Assert.Equal(24 + data.Length, patch.Length);
        Assert.Equal(data.Length, BsDiff.ReadOffset(patch.AsSpan(0, 8)));
        Assert.True(patch.AsSpan(24).IndexOfAnyExcept((byte)0) < 0, "diff bytes of identical data must all be zero");
    }

    [Fact]
    public void RandomAndRepetitiveInputsOfManyShapesRoundTrip()
    {
        var random = new Random(11);
        for (var iteration = 0; iteration < 60; iteration++)
        {
            var oldData = Shape(random, random.Next(0, 3000));
            var newData = random.Next(3) switch
            {
                0 => Shape(random, random.Next(0, 3000)),
                1 => EditedCopy(oldData.Length == 0 ? [1] : oldData, random, random.Next(1, 5)),
                _ => [.. oldData.AsSpan(oldData.Length / 2), .. oldData.AsSpan(0, oldData.Length / 2)],
            };
            RoundTrip(oldData, newData);
        }
    }

    private static byte[] Shape(Random random, int length)
    {
        var data = new byte[length];
        switch (random.Next(3))
        {
            case 0: random.NextBytes(data); break;
            case 1: for (var i = 0; i < length; i++) { data[i] = (byte)random.Next(2); } break;
            default: for (var i = 0; i < length; i++) { data[i] = (byte)(i % 7 == 0 ? random.Next(256) : 0); } break;
        }

        return data;
    }

    [Fact]
    public void LongZeroRunsDoNotDegrade()
    {
        var oldData = new byte[2_000_000];
        var newData = new byte[2_100_000];
        newData[1_000_000] = 1;
        var patch = RoundTrip(oldData, newData);
        Assert.True(CompressedSize(patch) < 2000);
    }

    [Fact]
    public void OffsetsAreSignMagnitudeLittleEndian()
    {
        var buffer = new byte[8];
        BsDiff.WriteOffset(-5, buffer);
        Assert.Equal(new byte[] { 5, 0, 0, 0, 0, 0, 0, 0x80 }, buffer);
        BsDiff.WriteOffset(0x0102, buffer);
        Assert.Equal(new byte[] { 2, 1, 0, 0, 0, 0, 0, 0 }, buffer);
        Assert.Equal(-0x0102, BsDiff.ReadOffset([2, 1, 0, 0, 0, 0, 0, 0x80]));
    }

    private static byte[] Control(long diff, long extra, long seek)
    {
        var block = new byte[24];
        BsDiff.WriteOffset(diff, block);
        BsDiff.WriteOffset(extra, block.AsSpan(8));
        BsDiff.WriteOffset(seek, block.AsSpan(16));
        return block;
    }

    [Fact]
    public void ApplyAcceptsTheSimplestHandWrittenPatchAndReadsOldBytesOutsideTheFileAsZero()
    {
        byte[] oldData = [10, 20, 30];
        byte[] newData = [11, 22, 33, 7, 8];
        // diff over 3 bytes, extra 2, then a second block whose diff reads past the end of old (counts as 0).
        byte[] patch = [.. Control(3, 2, 0), 1, 2, 3, 7, 8];
        Assert.Equal(newData, BsPatch.Apply(oldData, patch, newData.Length));

        byte[] pastEnd = [.. Control(2, 0, 5), 1, 2, .. Control(1, 0, 0), 9];
        Assert.Equal(new byte[] { 11, 22, 9 }, BsPatch.Apply(oldData, pastEnd, 3));
    }

    [Fact]
    public void ApplyRejectsMalformedPatchesInsteadOfReadingOrWritingOutOfBounds()
    {
        byte[] oldData = [1, 2, 3, 4];
        var good = BsDiff.CreatePatch(oldData, [1, 2, 3, 4, 5, 6]);

        Assert.Throws<InvalidDataException>(() => BsPatch.Apply(oldData, good.AsSpan(0, good.Length - 1), new byte[6]));
        Assert.Throws<InvalidDataException>(() => BsPatch.Apply(oldData, good.AsSpan(0, 10), new byte[6]));
        Assert.Throws<InvalidDataException>(() => BsPatch.Apply(oldData, [.. good, 0], new byte[6]));
        Assert.Throws<InvalidDataException>(() => BsPatch.Apply(oldData, Control(-1, 0, 0), new byte[6]));
        Assert.Throws<InvalidDataException>(() => BsPatch.Apply(oldData, [.. Control(0, -2, 0)], new byte[6]));
        Assert.Throws<InvalidDataException>(() => BsPatch.Apply(oldData, [.. Control(7, 0, 0), 0, 0, 0, 0, 0, 0, 0], new byte[6]));
        Assert.Throws<InvalidDataException>(() => BsPatch.Apply(oldData, [.. Control(0, 7, 0), 0, 0, 0, 0, 0, 0, 0], new byte[6]));
        Assert.Throws<InvalidDataException>(() => BsPatch.Apply(oldData, [.. Control((long)int.MaxValue + 1, 0, 0)], new byte[6]));
        Assert.Throws<InvalidDataException>(() => BsPatch.Apply(oldData, [], new byte[1]));
    }

    [Fact]
    public void CreatePatchHonoursCancellation()
    {
        var data = new byte[100_000];
        new Random(5).NextBytes(data);
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        Assert.Throws<OperationCanceledException>(() => BsDiff.CreatePatch(data, data, Stream.Null, cts.Token));
    }
}
