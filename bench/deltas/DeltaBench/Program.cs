using System.Globalization;
using OtaServer.OSTree;
using OtaServer.OSTree.StaticDeltas;

// DeltaBench generate --repo R --from A --to B --out DIR [--threads N] [--xz-preset N] [--max-part-size B] [--min-fallback-size B]
// DeltaBench measure  --repo R --superblock PATH        (download bytes of any delta: superblock + parts + fallback .filez)
var command = args.Length > 0 ? args[0] : "";
var opts = new Dictionary<string, string>(StringComparer.Ordinal);
for (int i = 1; i + 1 < args.Length; i += 2)
    opts[args[i].TrimStart('-')] = args[i + 1];
string Need(string key) => opts.TryGetValue(key, out var v) ? v : throw new ArgumentException($"--{key} is required");
var inv = CultureInfo.InvariantCulture;

switch (command)
{
    case "generate":
    {
        var options = new DeltaOptions
        {
            Threads = opts.TryGetValue("threads", out var t) ? int.Parse(t, inv) : Environment.ProcessorCount,
            XzPreset = opts.TryGetValue("xz-preset", out var p) ? int.Parse(p, inv) : DeltaOptions.Default.XzPreset,
            XzNiceLength = opts.TryGetValue("xz-nice", out var nl) ? int.Parse(nl, inv) : DeltaOptions.Default.XzNiceLength,
            XzDepth = opts.TryGetValue("xz-depth", out var dp) ? int.Parse(dp, inv) : DeltaOptions.Default.XzDepth,
            XzBlockSize = opts.TryGetValue("xz-block-size", out var bs) ? long.Parse(bs, inv) : DeltaOptions.Default.XzBlockSize,
            MaxPartSize = opts.TryGetValue("max-part-size", out var m) ? long.Parse(m, inv) : DeltaOptions.Default.MaxPartSize,
            MinFallbackSize = opts.TryGetValue("min-fallback-size", out var f) ? long.Parse(f, inv) : DeltaOptions.Default.MinFallbackSize,
        };
        var from = opts.TryGetValue("from", out var fromHex) ? Checksum.Parse(fromHex) : (Checksum?)null;
        var progress = new Progress<string>(Console.Error.WriteLine);
        var r = await DeltaCompiler.GenerateAsync(Need("repo"), from, Checksum.Parse(Need("to")), Need("out"), options, progress);
        Console.WriteLine(string.Create(inv, $"parts={r.Parts} compressed={r.CompressedBytes} payload={r.PayloadBytes} usize={r.UncompressedBytes} " +
            $"superblock={r.SuperblockSize} fallbacks={r.FallbackCount} fallback_bytes={r.FallbackBytes} download={r.DownloadBytes} " +
            $"metadata={r.MetadataCount} literal={r.LiteralCount} rollsum={r.RollsumCount} bsdiff={r.BsdiffCount} seconds={r.Elapsed.TotalSeconds:F2}"));
        return 0;
    }

    case "measure":
    {
        var superblockPath = Need("superblock");
        var bytes = File.ReadAllBytes(superblockPath);
        var sb = GVariant.Parse("(a{sv}tayay(a{sv}aya(say)sstayay)aya(uayttay)a(yaytt))", bytes);
        var dir = Path.GetDirectoryName(Path.GetFullPath(superblockPath))!;
        long parts = 0;
        int partCount = sb[6].Count;
        int objects = 0;
        for (int i = 0; i < partCount; i++)
        {
            parts += new FileInfo(Path.Combine(dir, i.ToString(inv))).Length;
            objects += sb[6][i][4].GetBytes().Length / 33;
        }

        long fallbackBytes = 0;
        foreach (var fb in sb[7].Items)
        {
            var hex = Checksum.FromBytes(fb[1].GetBytes().Span).ToString();
            fallbackBytes += new FileInfo(Path.Combine(Need("repo"), "objects", hex[..2], hex[2..] + ".filez")).Length;
        }

        Console.WriteLine(string.Create(inv, $"parts={partCount} part_bytes={parts} superblock={bytes.Length} objects={objects} " +
            $"fallbacks={sb[7].Count} fallback_bytes={fallbackBytes} download={bytes.Length + parts + fallbackBytes}"));
        return 0;
    }

    default:
        Console.Error.WriteLine("usage: DeltaBench generate|measure --repo R ...");
        return 2;
}
