using System.Diagnostics;
using OtaServer.OSTree.StaticDeltas;

namespace OtaServer.OSTree.Tests.StaticDeltas;

public sealed class XzTests
{
    private static readonly byte[] XzMagic = [0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00];

    internal static byte[] TextLikeData(int size, int seed)
    {
        var random = new Random(seed);
        string[] words = ["ostree", "delta", "commit", "dirtree", "/usr/lib", "0x7f454c46", "libc.so.6", "static", "summary", "\n"];
        var buffer = new List<byte>(size + 32);
        while (buffer.Count < size)
        {
            buffer.AddRange(System.Text.Encoding.ASCII.GetBytes(words[random.Next(words.Length)]));
            buffer.Add((byte)(random.Next(4) == 0 ? random.Next(256) : ' '));
        }

        return buffer.GetRange(0, size).ToArray();
    }

    private static byte[] RunXz(byte[] input, params string[] args)
    {
        var psi = new ProcessStartInfo("xz")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var arg in args)
        {
            psi.ArgumentList.Add(arg);
        }

        using var process = Process.Start(psi)!;
        var stdout = new MemoryStream();
        var copy = process.StandardOutput.BaseStream.CopyToAsync(stdout);
        var stderr = process.StandardError.ReadToEndAsync();
        process.StandardInput.BaseStream.Write(input);
        process.StandardInput.Close();
        copy.GetAwaiter().GetResult();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"xz {string.Join(' ', args)} failed: {stderr.GetAwaiter().GetResult()}");
        return stdout.ToArray();
    }

    [Theory]
    [InlineData(1, XzCheck.Crc64)]
    [InlineData(2, XzCheck.Crc32)]
    public void CompressedOutputIsDecodedByTheXzCli(int threads, XzCheck check)
    {
        var data = TextLikeData(1_200_000, 1);
        var compressed = XzCompressor.Compress(data, new XzOptions { Threads = threads, Check = check, Preset = 6 });

        Assert.Equal(XzMagic, compressed[..6]);
        Assert.True(compressed.Length < data.Length / 2, $"compressed {compressed.Length} of {data.Length}");
        Assert.Equal(data, RunXz(compressed, "-d", "-c"));
    }

    [Fact]
    public void SingleThreadedPreset8MatchesXzCliBytes()
    {
        var data = TextLikeData(200_000, 2);
        var ours = XzCompressor.Compress(data, XzOptions.SingleThreaded);
        var cli = RunXz(data, "-8", "-c", "--check=crc64", "-T1");
        Assert.Equal(cli, ours);
    }

    [Fact]
    public void MultiThreadedWithSmallBlocksProducesSeveralBlocksThatRoundTrip()
    {
        var data = TextLikeData(4_000_000, 3);
        var options = new XzOptions { Threads = 2, BlockSize = 1 << 20, Preset = 1 };
        var compressed = XzCompressor.Compress(data, options);

        var list = System.Text.Encoding.ASCII.GetString(RunXzList(compressed));
        Assert.Contains("Blocks:", list, StringComparison.Ordinal);
        Assert.Matches(@"Blocks:\s+4\b", list);
        Assert.Equal(data, XzDecompressor.Decompress(compressed));
    }

    private static byte[] RunXzList(byte[] compressed)
    {
        var path = Path.Combine(Path.GetTempPath(), $"xz-list-{Guid.NewGuid():N}.xz");
        File.WriteAllBytes(path, compressed);
        try
        {
            var psi = new ProcessStartInfo("xz") { RedirectStandardOutput = true };
            psi.ArgumentList.Add("--list");
            psi.ArgumentList.Add("-vv");
            psi.ArgumentList.Add(path);
            using var process = Process.Start(psi)!;
            var output = process.StandardOutput.ReadToEnd();
            process.WaitForExit();
            Assert.Equal(0, process.ExitCode);
            return System.Text.Encoding.ASCII.GetBytes(output);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void DecoderReadsXzCliOutput()
    {
        var data = TextLikeData(600_000, 4);
        var cli = RunXz(data, "-6", "-c", "--check=sha256");
        Assert.Equal(data, XzDecompressor.Decompress(cli));

        using var output = new MemoryStream();
        XzDecompressor.Decompress(new MemoryStream(cli), output);
        Assert.Equal(data, output.ToArray());
    }

    [Fact]
    public void EmptyInputRoundTripsAndIsAcceptedByTheCli()
    {
        var compressed = XzCompressor.Compress(ReadOnlySpan<byte>.Empty, XzOptions.SingleThreaded);
        Assert.Equal(XzMagic, compressed[..6]);
        Assert.Empty(RunXz(compressed, "-d", "-c"));
        Assert.Empty(XzDecompressor.Decompress(compressed));
        Assert.Empty(XzDecompressor.Decompress(RunXz([], "-c")));

        var mt = XzCompressor.Compress(ReadOnlySpan<byte>.Empty, new XzOptions { Threads = 2 });
        Assert.Empty(XzDecompressor.Decompress(mt));
    }

    [Fact]
    public async Task StreamingCompressionMatchesBufferCompression()
    {
        var data = TextLikeData(1_000_000, 5);
        var options = new XzOptions { Threads = 1, Preset = 3 };
        using var viaStream = new MemoryStream();
        XzCompressor.Compress(new MemoryStream(data), viaStream, options);
        using var viaAsync = new MemoryStream();
        await XzCompressor.CompressAsync(new MemoryStream(data), viaAsync, options);

        var viaBuffer = XzCompressor.Compress(data, options);
        Assert.Equal(viaBuffer, viaStream.ToArray());
        Assert.Equal(viaBuffer, viaAsync.ToArray());

        using var decoded = new MemoryStream();
        await XzDecompressor.DecompressAsync(new MemoryStream(viaBuffer), decoded);
        Assert.Equal(data, decoded.ToArray());
    }

    [Fact]
    public void CorruptTruncatedAndTrailingInputAreRejectedWithClearErrors()
    {
        var compressed = XzCompressor.Compress(TextLikeData(100_000, 6), XzOptions.SingleThreaded);

        var truncated = compressed[..(compressed.Length - 10)];
        var ex = Assert.Throws<XzException>(() => XzDecompressor.Decompress(truncated));
        Assert.Equal(LzmaResult.BufError, ex.Result);
        Assert.Contains("truncated", ex.Message, StringComparison.Ordinal);
        Assert.Throws<XzException>(() => XzDecompressor.Decompress(new MemoryStream(truncated), Stream.Null));

        var corrupt = (byte[])compressed.Clone();
        corrupt[compressed.Length / 2] ^= 0x55;
        var corruptEx = Assert.Throws<XzException>(() => XzDecompressor.Decompress(corrupt));
        Assert.Equal(LzmaResult.DataError, corruptEx.Result);

        var notXz = Assert.Throws<XzException>(() => XzDecompressor.Decompress("hello world, not xz"u8));
        Assert.Equal(LzmaResult.FormatError, notXz.Result);

        byte[] trailing = [.. compressed, 0x00, 0x01];
        Assert.Throws<XzException>(() => XzDecompressor.Decompress(trailing));
        Assert.Throws<XzException>(() => XzDecompressor.Decompress(new MemoryStream(trailing), Stream.Null));
    }

    [Fact]
    public void InvalidOptionsAreRejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => XzCompressor.Compress([1, 2, 3], new XzOptions { Preset = 10 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => XzCompressor.Compress([1, 2, 3], new XzOptions { BlockSize = -1 }));
    }
}
