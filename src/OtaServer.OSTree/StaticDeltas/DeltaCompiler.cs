using System.Diagnostics;
using System.Reflection;
using System.Security.Cryptography;

namespace OtaServer.OSTree.StaticDeltas;

/// <summary>
/// Native static-delta generator (ostree-format.md §6–8): writes <c>superblock</c> and parts <c>0..n</c>
/// for <c>from → to</c> (or from scratch) into a folder. The bytes depend only on the repository content
/// and the options (sorted orders, fixed timestamp), so a regenerated delta equals a cached one.
/// </summary>
public static class DeltaCompiler
{
    /// <summary>ostree's similarity window for candidate old files: new size ± 30 %.</summary>
    private const int SimilarityPercent = 30;

    /// <summary>Upper bound on the bytes of work items encoded at once (memory bound of the encode stage).</summary>
    private const long WindowBytes = 16L * 1024 * 1024;

    private const int WindowItems = 1024;

    public static string GeneratorVersion { get; } =
        "OtaServer.OSTree/" + (typeof(DeltaCompiler).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0");

    /// <summary>
    /// Generates the delta <paramref name="from"/> → <paramref name="to"/> (from scratch when
    /// <paramref name="from"/> is null) of the archive repository <paramref name="repository"/>
    /// into <paramref name="outputDirectory"/> (created if missing; must not already hold a delta).
    /// The host moves that folder to <c>&lt;repo&gt;/&lt;<see cref="DeltaResult.RelativePath"/>&gt;</c>.
    /// On failure or cancellation, partial files may remain in <paramref name="outputDirectory"/>: delete it.
    /// </summary>
    public static Task<DeltaResult> GenerateAsync(
        string repositoryRoot,
        Checksum? from,
        Checksum to,
        string outputDirectory,
        DeltaOptions? options = null,
        IProgress<string>? log = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(repositoryRoot);
        return GenerateAsync(new ArchiveRepository(repositoryRoot), from, to, outputDirectory, options, log, cancellationToken);
    }

    /// <inheritdoc cref="GenerateAsync(string, Checksum?, Checksum, string, DeltaOptions?, IProgress{string}?, CancellationToken)"/>
    public static async Task<DeltaResult> GenerateAsync(
        ArchiveRepository repository,
        Checksum? from,
        Checksum to,
        string outputDirectory,
        DeltaOptions? options = null,
        IProgress<string>? log = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(repository);
        ArgumentException.ThrowIfNullOrEmpty(outputDirectory);
        options ??= DeltaOptions.Default;
        options.Validate();
        if (from == to)
            throw new ArgumentException("A delta needs two different commits; 'from' equals 'to'.", nameof(from));

        var stopwatch = Stopwatch.StartNew();
        var repo = repository;
        Directory.CreateDirectory(outputDirectory);
        if (File.Exists(Path.Combine(outputDirectory, "superblock")))
            throw new IOException($"{outputDirectory} already holds a superblock; generate into an empty staging folder.");

        int threads = Math.Clamp(options.Threads, 1, 64);

        // 1. Reachable objects of both commits; new = to − from, minus the to-commit itself.
        var toCommit = repo.ReadCommit(to, out var toCommitBytes);
        var toObjects = repo.Walk(toCommit, cancellationToken);
        CommitObjects? fromObjects = null;
        if (from is { } fromChecksum)
        {
            var fromCommit = repo.ReadCommit(fromChecksum, out _);
            fromObjects = repo.Walk(fromCommit, cancellationToken);
        }

        var newMetadata = toObjects.Metadata
            .Where(m => fromObjects is null || !fromObjects.Metadata.Contains(m))
            .OrderBy(m => m.Type == ObjectType.DirTree ? 0 : 1).ThenBy(m => m.Checksum)
            .ToList();
        var newContent = toObjects.Content.Keys
            .Where(c => fromObjects is null || !fromObjects.Content.ContainsKey(c))
            .ToList();
        log?.Report($"{newMetadata.Count} new metadata objects, {newContent.Count} new content objects");

        // 2. Headers of the new content (and of the old content, for similar-file detection).
        var newInfo = await ReadInfosAsync(repo, newContent, threads, cancellationToken).ConfigureAwait(false);
        Dictionary<Checksum, ContentInfo> oldInfo = [];
        if (fromObjects is not null && (options.EnableRollsum || options.EnableBsdiff))
            oldInfo = await ReadInfosAsync(repo, fromObjects.Content.Keys.ToList(), threads, cancellationToken).ConfigureAwait(false);

        // 3. Similar old files for new regular files (same basename, size within ±30 %).
        var similar = fromObjects is null || oldInfo.Count == 0
            ? []
            : FindSimilar(toObjects, newContent, newInfo, fromObjects, oldInfo);
        log?.Report($"{similar.Count} new files have a similar old file ({stopwatch.Elapsed.TotalSeconds:F1} s)");

        // 4. Deterministic object order: metadata, diff candidates, then plain regular files grouped
        //    by extension and path (similar content next to each other compresses better), then symlinks.
        var items = new List<DeltaWorkItem>(newMetadata.Count + newContent.Count);
        items.AddRange(newMetadata.Select(m => new DeltaWorkItem(m, null, null, null)));
        string PathOf(Checksum c) => toObjects.Content[c][0];
        items.AddRange(similar.OrderBy(kv => PathOf(kv.Key), StringComparer.Ordinal).ThenBy(kv => kv.Key)
            .Select(kv => new DeltaWorkItem(new ObjectName(kv.Key, ObjectType.File), newInfo[kv.Key], kv.Value, oldInfo[kv.Value])));
        var plain = newContent.Where(c => !similar.ContainsKey(c)).ToList();
        items.AddRange(plain.Where(c => newInfo[c].Header.IsRegularFile)
            .OrderBy(c => Extension(PathOf(c)), StringComparer.Ordinal).ThenBy(PathOf, StringComparer.Ordinal).ThenBy(c => c)
            .Select(c => new DeltaWorkItem(new ObjectName(c, ObjectType.File), newInfo[c], null, null)));
        items.AddRange(plain.Where(c => !newInfo[c].Header.IsRegularFile)
            .OrderBy(PathOf, StringComparer.Ordinal).ThenBy(c => c)
            .Select(c => new DeltaWorkItem(new ObjectName(c, ObjectType.File), newInfo[c], null, null)));

        // 5. Encode in parallel windows (the next window is encoded while the current one is placed),
        //    place in order; each part streams its payload through xz on its own task while it fills.
        var relative = new DeltaName(from, to).RelativeDirectory;
        var encodeTicks = new long[Enum.GetValues<DeltaStrategy>().Length];
        var counts = new Dictionary<DeltaStrategy, int>();
        var fallbacks = new List<(Checksum Checksum, ContentInfo Info)>();
        var partTasks = new List<Task<DeltaPartHeader>>();
        var tables = new DeltaTables(newContent.Select(c => newInfo[c].Header));
        // One block per part: parts compress in parallel, one thread each. Fixed-size blocks: one part at a
        // time, its blocks compressed by all threads (the MT format does not depend on the thread count).
        var xzOptions = options.XzBlockSize > 0
            ? new XzOptions { Preset = options.XzPreset, Threads = Math.Max(2, threads), BlockSize = options.XzBlockSize }
            : new XzOptions { Preset = options.XzPreset, Threads = 1 };
        int lanes = options.ParallelParts;
        using var writerSlots = new SemaphoreSlim(lanes);
        using var failure = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var ct = failure.Token;
        long queueBytes = Math.Clamp(options.MaxPartSize, 1 << 20, WindowBytes);
        var laneParts = new DeltaPartWriter?[lanes];
        int lane = 0;
        long laneRun = 0;
        var laneBytes = new long[lanes];
        int partCount = 0;

        async Task<DeltaPartWriter> NewPartAsync()
        {
            await writerSlots.WaitAsync(ct).ConfigureAwait(false);
            var writer = new DeltaPartWriter(partCount++, outputDirectory, xzOptions, tables, queueBytes, ct,
                new XzTuning(options.XzNiceLength, options.XzDepth));
            partTasks.Add(Finish(writer));
            return writer;
        }

        async Task<DeltaPartHeader> Finish(DeltaPartWriter writer)
        {
            // Completes when the writer's task ends (after CompleteAsync, or on failure).
            try
            {
                var header = await writer.Completion.ConfigureAwait(false);
                log?.Report($"part {header.Index}: {header.Objects.Length / 33} objects, {header.PayloadSize} → {header.Size} bytes (done at {stopwatch.Elapsed.TotalSeconds:F1} s; " +
                    $"waited {writer.WaitTicks / (double)Stopwatch.Frequency:F1} s, compressed {writer.CompressTicks / (double)Stopwatch.Frequency:F1} s)");
                return header;
            }
            catch
            {
                await failure.CancelAsync().ConfigureAwait(false);
                throw;
            }
            finally
            {
                writerSlots.Release();
            }
        }

        Task<EncodedObject[]> EncodeWindowAsync(int start, int end) => Task.Run(async () =>
        {
            var encoded = new EncodedObject[end - start];
            await Parallel.ForAsync(start, end, new ParallelOptions { MaxDegreeOfParallelism = threads, CancellationToken = ct },
                (i, token) =>
                {
                    long t0 = Stopwatch.GetTimestamp();
                    var obj = DeltaObjectEncoder.Encode(repo, items[i], options, token);
                    long spent = Stopwatch.GetTimestamp() - t0;
                    Interlocked.Add(ref encodeTicks[(int)obj.Strategy], spent);
                    if (spent > Stopwatch.Frequency / 5)
                        log?.Report($"slow object {toObjects.Content.GetValueOrDefault(items[i].Name.Checksum)?[0]} ({items[i].Info?.Size} bytes, {obj.Strategy}): {spent / (double)Stopwatch.Frequency:F2} s");
                    encoded[i - start] = obj;
                    return ValueTask.CompletedTask;
                }).ConfigureAwait(false);
            return encoded;
        }, ct);

        int NextWindowEnd(int start)
        {
            int end = start;
            long bytes = 0;
            while (end < items.Count && end - start < WindowItems && (end == start || bytes < WindowBytes))
                bytes += EstimateWork(items[end++]);
            return end;
        }

        var openParts = new List<DeltaPartWriter>();
        Task<EncodedObject[]>? pending = null;
        try
        {
            int windowEnd = NextWindowEnd(0);
            pending = items.Count > 0 ? EncodeWindowAsync(0, windowEnd) : null;
            while (pending is not null)
            {
                var encoded = await pending.ConfigureAwait(false);
                if (windowEnd < items.Count)
                {
                    int start = windowEnd;
                    windowEnd = NextWindowEnd(start);
                    pending = EncodeWindowAsync(start, windowEnd);
                }
                else
                {
                    pending = null;
                }

                for (int i = 0; i < encoded.Length; i++)
                {
                    var obj = encoded[i];
                    encoded[i] = null!; // let placed objects' bytes go once their part has compressed them
                    counts[obj.Strategy] = counts.GetValueOrDefault(obj.Strategy) + 1;
                    if (obj.Strategy == DeltaStrategy.Fallback)
                    {
                        fallbacks.Add((obj.Name.Checksum, obj.FallbackInfo!));
                        continue;
                    }

                    // Lanes: runs of about LaneRunBytes go to the open parts in turn, so that ParallelParts
                    // parts fill and compress at the same time; each part still closes at MaxPartSize.
                    if (laneRun >= LaneRunBytes)
                    {
                        // Next run to the lane with the least payload so far: the parts finish together.
                        for (int l = 0; l < lanes; l++)
                        {
                            if (laneBytes[l] < laneBytes[lane])
                                lane = l;
                        }

                        laneRun = 0;
                    }

                    var part = laneParts[lane];
                    if (part is not null && part.ObjectCount > 0 && part.SizeEstimate + obj.PlacementSize > options.MaxPartSize)
                    {
                        _ = part.CompleteAsync();
                        openParts.Remove(part);
                        part = laneParts[lane] = null;
                    }

                    if (part is null)
                    {
                        part = laneParts[lane] = await NewPartAsync().ConfigureAwait(false);
                        openParts.Add(part);
                    }

                    long before = part.SizeEstimate;
                    await part.AddAsync(obj, ct).ConfigureAwait(false);
                    laneRun += part.SizeEstimate - before;
                    laneBytes[lane] += part.SizeEstimate - before;
                }
            }

            if (partCount == 0)
            {
                // A delta with no new objects in parts still has one (empty) part, as ostree writes.
                laneParts[0] = await NewPartAsync().ConfigureAwait(false);
                openParts.Add(laneParts[0]!);
            }

            foreach (var open in laneParts)
            {
                if (open is not null)
                {
                    _ = open.CompleteAsync();
                    openParts.Remove(open);
                }
            }

            log?.Report("encoding time by strategy (thread-seconds): " + string.Join(", ",
                Enum.GetValues<DeltaStrategy>().Select(st => $"{st} {encodeTicks[(int)st] / (double)Stopwatch.Frequency:F1}")) +
                $"; all objects placed at {stopwatch.Elapsed.TotalSeconds:F1} s");
            var headers = await Task.WhenAll(partTasks).ConfigureAwait(false);
            ct.ThrowIfCancellationRequested();

            // 6. Superblock.
            fallbacks.Sort((a, b) => a.Checksum.CompareTo(b.Checksum));
            var commitMeta = repo.TryReadCommitMeta(to);
            var superblock = BuildSuperblock(from, to, toCommit, toCommitBytes, commitMeta, headers, fallbacks, options);
            if (superblock.Length > ObjectVerifier.MaxMetadataSize)
            {
                throw new InvalidOperationException(
                    $"The superblock would be {superblock.Length} bytes; clients refuse more than {ObjectVerifier.MaxMetadataSize}. " +
                    "The delta has too many objects: generate it from a closer 'from' commit.");
            }

            var superblockPath = Path.Combine(outputDirectory, "superblock");
            await File.WriteAllBytesAsync(superblockPath, superblock, ct).ConfigureAwait(false);
            stopwatch.Stop();
            var result = new DeltaResult
            {
                RelativePath = relative,
                From = from,
                To = to,
                SuperblockChecksum = Checksum.FromBytes(SHA256.HashData(superblock)),
                SuperblockSize = superblock.Length,
                Parts = headers.Length,
                CompressedBytes = headers.Sum(h => h.Size),
                UncompressedBytes = headers.Sum(h => h.USize),
                PayloadBytes = headers.Sum(h => h.PayloadSize),
                FallbackCount = fallbacks.Count,
                FallbackBytes = fallbacks.Sum(f => f.Info.StoredSize),
                FallbackUncompressedBytes = fallbacks.Sum(f => f.Info.Size),
                MetadataCount = counts.GetValueOrDefault(DeltaStrategy.Metadata),
                LiteralCount = counts.GetValueOrDefault(DeltaStrategy.Literal),
                RollsumCount = counts.GetValueOrDefault(DeltaStrategy.Rollsum),
                BsdiffCount = counts.GetValueOrDefault(DeltaStrategy.Bsdiff),
                Elapsed = stopwatch.Elapsed,
                GeneratorVersion = GeneratorVersion,
            };
            log?.Report($"delta {relative}: {result.Parts} parts, {result.CompressedBytes} bytes, {result.FallbackCount} fallbacks " +
                $"({result.FallbackBytes} bytes), superblock {result.SuperblockSize} bytes; literal {result.LiteralCount}, " +
                $"rollsum {result.RollsumCount}, bsdiff {result.BsdiffCount}, metadata {result.MetadataCount}; {result.Elapsed.TotalSeconds:F1} s");
            return result;
        }
        catch
        {
            // Never return while a background part is still writing into the folder.
            await failure.CancelAsync().ConfigureAwait(false);
            foreach (var open in openParts)
                _ = open.AbortAsync(new OperationCanceledException("Delta generation failed."));
            try
            {
                await Task.WhenAll(pending is null ? partTasks : [.. partTasks, pending]).ConfigureAwait(false);
            }
            catch (Exception)
            {
                // The first failure is the one rethrown below.
            }

            throw;
        }
    }

    /// <summary>Bytes of payload placed in one part before the next object goes to the next open part.</summary>
    private const long LaneRunBytes = 3_000_000;

    private static long EstimateWork(DeltaWorkItem item) =>
        item.Info is null ? 4096 : item.Info.Size + (item.SourceInfo?.Size ?? 0) + 512;

    private static string Extension(string path)
    {
        var name = path[(path.LastIndexOf('/') + 1)..];
        var dot = name.LastIndexOf('.');
        return dot <= 0 ? "" : name[(dot + 1)..];
    }

    private static async Task<Dictionary<Checksum, ContentInfo>> ReadInfosAsync(
        ArchiveRepository repo, List<Checksum> checksums, int threads, CancellationToken ct)
    {
        var infos = new ContentInfo[checksums.Count];
        await Parallel.ForAsync(0, checksums.Count, new ParallelOptions { MaxDegreeOfParallelism = threads, CancellationToken = ct },
            (i, _) =>
            {
                infos[i] = repo.ReadContentInfo(checksums[i]);
                return ValueTask.CompletedTask;
            }).ConfigureAwait(false);
        var map = new Dictionary<Checksum, ContentInfo>(checksums.Count);
        for (int i = 0; i < checksums.Count; i++)
            map[checksums[i]] = infos[i];
        return map;
    }

    /// <summary>
    /// ostree's similar-object analysis: a new regular file (size &gt; 0, not .xz/.bz2) is paired with an
    /// old world-readable regular file of size within ±30 % that shares a basename — exactly, else
    /// "fuzzily" (same text before the first '.'). The closest size wins (ties: smallest checksum).
    /// </summary>
    private static Dictionary<Checksum, Checksum> FindSimilar(
        CommitObjects toObjects, List<Checksum> newContent, Dictionary<Checksum, ContentInfo> newInfo,
        CommitObjects fromObjects, Dictionary<Checksum, ContentInfo> oldInfo)
    {
        var exact = new Dictionary<string, List<Checksum>>(StringComparer.Ordinal);
        var fuzzy = new Dictionary<string, List<Checksum>>(StringComparer.Ordinal);
        foreach (var (checksum, paths) in fromObjects.Content.OrderBy(kv => kv.Key))
        {
            var info = oldInfo[checksum];
            if (!info.Header.IsRegularFile || info.Size == 0 || !info.IsWorldReadable || !IsDeltaCandidate(paths))
                continue;
            foreach (var name in paths.Select(BaseName).Distinct(StringComparer.Ordinal))
            {
                Add(exact, name, checksum);
                if (FuzzyKey(name) is { } key)
                    Add(fuzzy, key, checksum);
            }
        }

        var result = new Dictionary<Checksum, Checksum>();
        foreach (var checksum in newContent)
        {
            var info = newInfo[checksum];
            var paths = toObjects.Content[checksum];
            if (!info.Header.IsRegularFile || info.Size == 0 || !IsDeltaCandidate(paths))
                continue;
            long min = (long)(info.Size * (1.0 - SimilarityPercent / 100.0));
            long max = (long)(info.Size * (1.0 + SimilarityPercent / 100.0));
            var names = paths.Select(BaseName).Distinct(StringComparer.Ordinal).ToList();
            var best = Best(names.SelectMany(n => exact.GetValueOrDefault(n) ?? []), info.Size, min, max, oldInfo)
                ?? Best(names.Select(FuzzyKey).OfType<string>().SelectMany(k => fuzzy.GetValueOrDefault(k) ?? []), info.Size, min, max, oldInfo);
            if (best is { } source)
                result[checksum] = source;
        }

        return result;

        static void Add(Dictionary<string, List<Checksum>> map, string key, Checksum checksum)
        {
            if (!map.TryGetValue(key, out var list))
                map[key] = list = [];
            list.Add(checksum);
        }
    }

    private static Checksum? Best(IEnumerable<Checksum> candidates, long size, long min, long max, Dictionary<Checksum, ContentInfo> oldInfo)
    {
        Checksum? best = null;
        long bestDistance = long.MaxValue;
        foreach (var c in candidates)
        {
            long s = oldInfo[c].Size;
            if (s < min || s > max)
                continue;
            long d = Math.Abs(s - size);
            if (d < bestDistance || (d == bestDistance && c < best!.Value))
            {
                best = c;
                bestDistance = d;
            }
        }

        return best;
    }

    private static string BaseName(string path) => path[(path.LastIndexOf('/') + 1)..];

    private static string? FuzzyKey(string name)
    {
        var dot = name.IndexOf('.', StringComparison.Ordinal);
        return dot > 0 ? name[..dot] : null;
    }

    /// <summary>Compressed formats (.xz, .bz2) do not diff; .gz is kept (it may be --rsyncable), as in ostree.</summary>
    private static bool IsDeltaCandidate(List<string> paths) =>
        !paths.Any(p => p.EndsWith(".xz", StringComparison.Ordinal) || p.EndsWith(".bz2", StringComparison.Ordinal));

    private static byte[] BuildSuperblock(
        Checksum? from, Checksum to, Commit toCommit, byte[] toCommitBytes, byte[]? commitMeta,
        DeltaPartHeader[] headers, List<(Checksum Checksum, ContentInfo Info)> fallbacks, DeltaOptions options)
    {
        var metadata = new List<KeyValuePair<string, GVariant>>
        {
            KeyValuePair.Create("ostree.endianness", GVariant.Byte((byte)'l')),
        };
        if (commitMeta is not null)
        {
            metadata.Add(KeyValuePair.Create(new DeltaName(from, to).CommitMetaKey,
                GVariant.FromSerialized(GVariantType.VarDict, commitMeta)));
        }

        ulong timestamp = options.Timestamp is { } ts ? (ulong)Math.Max(0, ts.ToUnixTimeSeconds()) : toCommit.Timestamp;
        var partHeaders = headers.OrderBy(h => h.Index).Select(h => GVariant.Tuple(
            GVariant.UInt32(0),
            GVariant.Bytes(h.Checksum.ToArray()),
            GVariant.UInt64((ulong)h.Size),
            GVariant.UInt64((ulong)h.USize),
            GVariant.Bytes(h.Objects)));
        var fallbackEntries = fallbacks.Select(f => GVariant.Tuple(
            GVariant.Byte((byte)ObjectType.File),
            GVariant.Bytes(f.Checksum.ToArray()),
            GVariant.UInt64((ulong)f.Info.StoredSize),
            GVariant.UInt64((ulong)f.Info.Size)));
        var superblock = GVariant.Tuple(
            GVariant.VarDict(metadata),
            GVariant.UInt64BigEndian(timestamp),
            GVariant.Bytes(from is { } f ? f.ToArray() : []),
            GVariant.Bytes(to.ToArray()),
            GVariant.FromSerialized(Commit.VariantType, toCommitBytes),
            GVariant.Bytes(Array.Empty<byte>()),
            GVariant.Array("(uayttay)", partHeaders),
            GVariant.Array("(yaytt)", fallbackEntries));
        return superblock.Serialize();
    }
}
