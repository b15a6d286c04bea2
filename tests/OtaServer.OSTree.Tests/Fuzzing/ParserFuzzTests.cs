using System.Diagnostics;
using OtaServer.OSTree.StaticDeltas;
using Xunit.Abstractions;

namespace OtaServer.OSTree.Tests.Fuzzing;

/// <summary>
/// Every parser that takes bytes from outside, fed seeded mutations of valid samples (the real client's
/// objects and summary, and a delta superblock and xz part of our own): each input either parses or fails
/// with the parser's documented exception; nothing else escapes, nothing hangs, and no mutated object that
/// no longer hashes to its name is accepted. OTA_FUZZ_ITERATIONS raises the count (bench/reliability).
/// </summary>
public sealed class ParserFuzzTests(ITestOutputHelper output)
{
    private static readonly string Dir = Path.Combine(AppContext.BaseDirectory, "Fixtures", "ostree-2022.7");

    private static byte[][] Fixtures(string pattern) =>
        Directory.EnumerateFiles(Dir, pattern).Order(StringComparer.Ordinal).Select(File.ReadAllBytes).ToArray();

    private void Fuzz(string parser, IReadOnlyList<byte[]> samples, int seed, Action<byte[]> parse, params Type[] documented)
    {
        var iterations = Mutator.Iterations(2000);
        var mutator = new Mutator(seed, samples);
        int parsed = 0, refused = 0;
        var clock = Stopwatch.StartNew();
        var slowest = TimeSpan.Zero;
        for (var i = 0; i < iterations; i++)
        {
            var input = mutator.Next();
            var one = Stopwatch.StartNew();
            try
            {
                parse(input);
                parsed++;
            }
            catch (Exception e) when (documented.Any(t => t.IsInstanceOfType(e)))
            {
                refused++;
            }
            catch (Exception e)
            {
                Assert.Fail($"{parser}: input {i} of seed {seed} ({Convert.ToHexString(input.AsSpan(0, Math.Min(64, input.Length)))}…, " +
                    $"{input.Length} bytes) threw {e.GetType().Name}: {e.Message}");
            }
            if (one.Elapsed > slowest)
                slowest = one.Elapsed;
        }
        output.WriteLine($"{parser}: {iterations} inputs, {parsed} parsed, {refused} refused, 0 crashes; slowest {slowest.TotalMilliseconds:0.0} ms, all {clock.Elapsed.TotalSeconds:0.00} s");
        Assert.True(refused > 0, $"{parser}: no mutation was refused, the fuzzer is not reaching the parser");
        // A hang shows as one input taking seconds; a legitimate parse of these small inputs takes microseconds.
        Assert.True(slowest < TimeSpan.FromSeconds(5), $"{parser}: one input took {slowest}");
    }

    [Fact]
    public void GVariant_NormalFormParser_OfEveryObjectType()
    {
        var samples = Fixtures("*.commit").Concat(Fixtures("*.dirtree")).Concat(Fixtures("*.dirmeta")).Concat(Fixtures("summary")).ToArray();
        var types = new[] { Commit.VariantType, DirTree.VariantType, DirMeta.VariantType, Summary.VariantType, GVariantType.VarDict,
            GVariantType.Parse("(a{sv}tayay" + Commit.TypeString + "aya(uayttay)a(yaytt))") };
        var n = 0;
        Fuzz("GVariant.ParseNormalForm", samples, 11, bytes => GVariant.ParseNormalForm(types[n++ % types.Length], bytes), typeof(FormatException));
    }

    [Fact]
    public void Commit_DirTree_DirMeta_Summary_DeltaIndex_Parsers()
    {
        Fuzz("Commit.Parse", Fixtures("*.commit"), 21, bytes => Commit.Parse(bytes), typeof(FormatException));
        Fuzz("DirTree.Parse", Fixtures("*.dirtree"), 22, bytes => DirTree.Parse(bytes), typeof(FormatException));
        Fuzz("DirMeta.Parse", Fixtures("*.dirmeta"), 23, bytes => DirMeta.Parse(bytes), typeof(FormatException));
        Fuzz("Summary.Parse", Fixtures("summary"), 24, bytes => Summary.Parse(bytes), typeof(FormatException));
        var index = DeltaIndex.Write(Checksum.Compute([2]), [new SummaryDelta(new DeltaName(Checksum.Compute([1]), Checksum.Compute([2])), Checksum.Compute([3]))]);
        Fuzz("DeltaIndex.Parse", [index], 25, bytes => DeltaIndex.Parse(bytes), typeof(FormatException));
    }

    [Fact]
    public void ObjectVerifier_AcceptsNoMutatedObject()
    {
        var files = Directory.EnumerateFiles(Dir).Where(f => ObjectName.TryParse(Path.GetFileName(f), out _)).Order(StringComparer.Ordinal).ToArray();
        var samples = files.Select(File.ReadAllBytes).ToArray();
        var originals = samples.Select(Convert.ToHexString).ToHashSet();
        var names = files.Select(f => ObjectName.Parse(Path.GetFileName(f))).ToArray();
        var n = 0;
        Fuzz("ObjectVerifier.Verify", samples, 31, bytes =>
        {
            var i = n++ % names.Length;
            var name = names[i];
            ObjectVerifier.Verify(name, new MemoryStream(bytes));
            if (originals.Contains(Convert.ToHexString(bytes)))
                return;
            // Accepted though changed: metadata has one valid body per name (normal form, hashed as stored);
            // a .filez may differ only in how its body is deflated, never in its header or its content.
            if (name.Type != ObjectType.File)
                Assert.Fail($"a mutated {name} was accepted");
            var (header, content) = Inflate(bytes);
            var (originalHeader, originalContent) = Inflate(samples[i]);
            Assert.True(header.SequenceEqual(originalHeader) && content.SequenceEqual(originalContent), $"a mutated {name} was accepted");
        }, typeof(InvalidObjectException));
    }

    /// <summary>A .filez's header bytes and its inflated body, read independently of the verifier.</summary>
    private static (byte[] Header, byte[] Content) Inflate(byte[] filez)
    {
        var headerLength = 8 + (int)System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(filez);
        using var inflater = new System.IO.Compression.DeflateStream(new MemoryStream(filez, headerLength, filez.Length - headerLength),
            System.IO.Compression.CompressionMode.Decompress);
        var content = new MemoryStream();
        inflater.CopyTo(content);
        return (filez[..headerLength], content.ToArray());
    }

    [Fact]
    public void FilezHeader_Reader()
    {
        Fuzz("ContentObject.ReadArchiveHeader", Fixtures("*.filez"), 41,
            bytes => ContentObject.ReadArchiveHeader(new MemoryStream(bytes)), typeof(FormatException), typeof(EndOfStreamException));
    }

    [Fact]
    public void Xz_PartDecoder()
    {
        var part = XzCompressor.Compress(System.Text.Encoding.UTF8.GetBytes(string.Concat(Enumerable.Range(0, 2000).Select(i => $"part line {i}\n"))));
        Fuzz("XzDecompressor.Decompress", [part], 51, bytes => XzDecompressor.Decompress(bytes), typeof(XzException));
    }
}
