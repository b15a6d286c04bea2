using System.Diagnostics;
using OtaServer.OSTree.StaticDeltas;

// Manual benchmark for the static-delta algorithms. Usage:
//   dotnet run -c Release --project bench/deltas/algo -- bsdiff OLD NEW
//   dotnet run -c Release --project bench/deltas/algo -- bsdiff-write OLD NEW PATCH
//   dotnet run -c Release --project bench/deltas/algo -- make-synthetic SIZE_MB OUT_DIR
//   dotnet run -c Release --project bench/deltas/algo -- xz FILE [threads] [blockMiB]
//   dotnet run -c Release --project bench/deltas/algo -- rollsum OLD NEW
// Peak RSS: run under `/usr/bin/time -v`.
if (args.Length == 0)
{
    Console.Error.WriteLine("usage: bsdiff OLD NEW | make-synthetic SIZE_MB OUT_DIR | xz FILE [threads] [blockMiB] | rollsum OLD NEW");
    return 2;
}

switch (args[0])
{
    case "bsdiff":
        return RunBsDiff(File.ReadAllBytes(args[1]), File.ReadAllBytes(args[2]));
    case "bsdiff-write":
        {
            // bsdiff-write OLD NEW PATCH: raw patch to a file (for cross-checks with other tools)
            using var patch = File.Create(args[3]);
            BsDiff.CreatePatch(File.ReadAllBytes(args[1]), File.ReadAllBytes(args[2]), patch);
            return 0;
        }

    case "make-synthetic":
        {
            // make-synthetic SIZE_MB OUT_DIR → OUT_DIR/old.bin, OUT_DIR/new.bin
            var size = int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) * 1_000_000;
            var (oldData, newData) = Synthetic(size);
            File.WriteAllBytes(Path.Combine(args[2], "old.bin"), oldData);
            File.WriteAllBytes(Path.Combine(args[2], "new.bin"), newData);
            return 0;
        }

    case "xz":
        {
            var data = File.ReadAllBytes(args[1]);
            var threads = args.Length > 2 ? int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : 1;
            var blockMiB = args.Length > 3 ? long.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture) : 0;
            var sw = Stopwatch.StartNew();
            var compressed = XzCompressor.Compress(data, new XzOptions { Threads = threads, BlockSize = blockMiB << 20 });
            var seconds = sw.Elapsed.TotalSeconds;
            var cpu = Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds;
            Console.WriteLine($"xz preset 8 threads {threads} block {(blockMiB == 0 ? "default" : blockMiB + " MiB")}: {data.Length} -> {compressed.Length} bytes ({100.0 * compressed.Length / data.Length:F2} %), {seconds:F2} s wall ({data.Length / 1e6 / seconds:F2} MB/s), {cpu:F2} s CPU, peak RSS {Process.GetCurrentProcess().PeakWorkingSet64 / 1e6:F0} MB");
            sw.Restart();
            var back = XzDecompressor.Decompress(compressed);
            Console.WriteLine($"decompress: {sw.Elapsed.TotalSeconds:F2} s, equal {back.AsSpan().SequenceEqual(data)}");
            return 0;
        }

    case "rollsum":
        {
            var source = File.ReadAllBytes(args[1]);
            var target = File.ReadAllBytes(args[2]);
            var sw = Stopwatch.StartNew();
            var match = RollsumMatcher.Match(source, target);
            Console.WriteLine($"rollsum: {match.MatchedChunks}/{match.TargetChunks} chunks ({match.MatchedPercent:F1} %), {match.MatchedBytes} bytes, {match.Regions.Count} regions, {sw.Elapsed.TotalSeconds:F2} s");
            return 0;
        }

    default:
        Console.Error.WriteLine($"unknown command {args[0]}");
        return 2;
}

static int RunBsDiff(byte[] oldData, byte[] newData)
{
    var patchPath = Path.Combine(Path.GetTempPath(), $"bsdiff-bench-{Environment.ProcessId}.patch");
    try
    {
        var sw = Stopwatch.StartNew();
        using (var patch = new FileStream(patchPath, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16))
        {
            BsDiff.CreatePatch(oldData, newData, patch);
        }

        var diffSeconds = sw.Elapsed.TotalSeconds;
        var cpuSeconds = Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds;
        var peak = Process.GetCurrentProcess().PeakWorkingSet64;
        var patchBytes = File.ReadAllBytes(patchPath);
        var rebuilt = new byte[newData.Length];
        BsPatch.Apply(oldData, patchBytes, rebuilt);
        var ok = rebuilt.AsSpan().SequenceEqual(newData);
        var compressed = XzCompressor.Compress(patchBytes, XzOptions.SingleThreaded with { Preset = 6 });
        Console.WriteLine($"bsdiff old {oldData.Length} new {newData.Length}: {diffSeconds:F2} s wall, {cpuSeconds:F2} s process CPU, peak RSS after diff {peak / 1e6:F0} MB");
        Console.WriteLine($"raw patch {patchBytes.Length}, xz -6 patch {compressed.Length}, verified {ok}");
        return ok ? 0 : 1;
    }
    finally
    {
        File.Delete(patchPath);
    }
}

// Realistic-ish synthetic pair: concatenation of system binaries (old), then an edited copy (new).
static (byte[] Old, byte[] New) Synthetic(int size)
{
    var oldData = new byte[size];
    var filled = 0;
    foreach (var file in Directory.EnumerateFiles("/usr/lib/x86_64-linux-gnu", "*.so*", SearchOption.AllDirectories))
    {
        if (filled >= size)
        {
            break;
        }

        try
        {
            var bytes = File.ReadAllBytes(file);
            var n = Math.Min(bytes.Length, size - filled);
            bytes.AsSpan(0, n).CopyTo(oldData.AsSpan(filled));
            filled += n;
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    var random = new Random(1);
    if (filled < size)
    {
        random.NextBytes(oldData.AsSpan(filled));
    }

    var newData = new List<byte>(size + size / 100);
    var pos = 0;
    while (pos < size)
    {
        var run = Math.Min(random.Next(10_000, 500_000), size - pos);
        newData.AddRange(oldData.AsSpan(pos, run));
        pos += run;
        switch (random.Next(3))
        {
            case 0: pos += random.Next(0, 5000); break;
            case 1:
                var insert = new byte[random.Next(1, 5000)];
                random.NextBytes(insert);
                newData.AddRange(insert);
                break;
            default:
                for (var k = 0; k < 64 && newData.Count > 0; k++)
                {
                    newData[newData.Count - 1 - random.Next(Math.Min(4096, newData.Count))] ^= 0x5A;
                }

                break;
        }
    }

    return (oldData, newData.ToArray());
}
