namespace OtaServer.OSTree.StaticDeltas;

/// <summary>A new object to put in the delta, in the compiler's deterministic order.</summary>
internal sealed record DeltaWorkItem(ObjectName Name, ContentInfo? Info, Checksum? Source, ContentInfo? SourceInfo);

/// <summary>
/// Turns one new object into payload + ops: literal <c>S</c>, rollsum (<c>o/r/w/R/c</c>) or bsdiff
/// (<c>r/o/B/c/R</c>) against a similar old file, or a fallback. Stateless; called in parallel.
/// </summary>
internal static class DeltaObjectEncoder
{
    public static EncodedObject Encode(ArchiveRepository repo, DeltaWorkItem item, DeltaOptions options, CancellationToken ct)
    {
        ct.ThrowIfCancellationRequested();
        if (item.Name.Type.IsMetadata())
        {
            var bytes = repo.ReadMetadata(item.Name.Checksum, item.Name.Type);
            return new EncodedObject
            {
                Name = item.Name,
                Strategy = DeltaStrategy.Metadata,
                Payload = [bytes],
                Ops = [new DeltaOp(DeltaOpCode.SpliceMetadata, bytes.Length, 0)],
                USize = bytes.Length,
                PlacementSize = bytes.Length,
            };
        }

        var info = item.Info!;
        if (item.Source is { } source && item.SourceInfo is { } sourceInfo && info.Size <= Array.MaxLength && sourceInfo.Size <= Array.MaxLength)
        {
            // Like ostree, a changed file is diffed whatever its size; only if no diff applies may it become a fallback.
            var target = repo.ReadContent(item.Name.Checksum, info);
            var old = repo.ReadContent(source, sourceInfo);
            ct.ThrowIfCancellationRequested();
            if (options.EnableRollsum)
            {
                var match = RollsumMatcher.Match(old, target);
                if (match.IsWorthUsing)
                    return Rollsum(item.Name, info, source, target, match);
            }

            if (options.EnableBsdiff && old.LongLength + target.LongLength <= options.MaxBsdiffSize)
            {
                var patch = BsDiff.CreatePatch(old, target, ct);
                return Bsdiff(item.Name, info, source, target.Length, patch);
            }

            // Neither strategy applies: like ostree, it becomes an ordinary new file.
            if (options.MinFallbackSize > 0 && info.CanonicalSize > options.MinFallbackSize)
                return Fallback(item.Name, info);
            return Literal(item.Name, info, target);
        }

        if (IsFallback(info, options))
            return Fallback(item.Name, info);
        return Literal(item.Name, info, repo.ReadContent(item.Name.Checksum, info));
    }

    public static bool IsFallback(ContentInfo info, DeltaOptions options) =>
        options.MinFallbackSize > 0 && info.Header.IsRegularFile && info.CanonicalSize > options.MinFallbackSize;

    private static EncodedObject Fallback(ObjectName name, ContentInfo info) => new()
    {
        Name = name,
        Strategy = DeltaStrategy.Fallback,
        Header = info.Header,
        FallbackInfo = info,
    };

    private static EncodedObject Literal(ObjectName name, ContentInfo info, byte[] data) => new()
    {
        Name = name,
        Strategy = DeltaStrategy.Literal,
        Header = info.Header,
        Payload = [data],
        Ops = [new DeltaOp(DeltaOpCode.SpliceContent, data.Length, 0)],
        USize = info.Header.IsRegularFile ? data.Length : 0,
        PlacementSize = info.Header.IsRegularFile ? data.Length : 0,
    };

    private static EncodedObject Rollsum(ObjectName name, ContentInfo info, Checksum source, byte[] target, RollsumMatchResult match)
    {
        // Same op sequence as ostree's process_one_rollsum: source checksum in the payload, 'o', then
        // literal runs from the payload (after 'R' if a source is set) and copies from the source (after 'r').
        var payload = new List<ReadOnlyMemory<byte>> { source.ToArray() };
        long payloadLength = Checksum.Size;
        var ops = new List<DeltaOp> { new(DeltaOpCode.Open, target.Length) };
        bool readingPayload = true;
        foreach (var region in match.Regions)
        {
            if (region.Kind == RollsumRegionKind.Copy)
            {
                if (readingPayload)
                {
                    ops.Add(new DeltaOp(DeltaOpCode.SetReadSource, 0));
                    readingPayload = false;
                }

                ops.Add(new DeltaOp(DeltaOpCode.WriteSource, region.Length, region.SourceOffset));
            }
            else
            {
                if (!readingPayload)
                {
                    ops.Add(new DeltaOp(DeltaOpCode.UnsetReadSource));
                    readingPayload = true;
                }

                payload.Add(target.AsMemory(checked((int)region.TargetOffset), checked((int)region.Length)));
                ops.Add(new DeltaOp(DeltaOpCode.WritePayload, region.Length, payloadLength));
                payloadLength += region.Length;
            }
        }

        if (!readingPayload)
            ops.Add(new DeltaOp(DeltaOpCode.UnsetReadSource));
        ops.Add(new DeltaOp(DeltaOpCode.Close));
        return new EncodedObject
        {
            Name = name,
            Strategy = DeltaStrategy.Rollsum,
            Header = info.Header,
            Payload = payload,
            Ops = ops,
            USize = target.Length,
            PlacementSize = 0,
        };
    }

    private static EncodedObject Bsdiff(ObjectName name, ContentInfo info, Checksum source, long size, byte[] patch) => new()
    {
        // ostree's process_one_bsdiff: r, o, B, c, R.
        Name = name,
        Strategy = DeltaStrategy.Bsdiff,
        Header = info.Header,
        Payload = [source.ToArray(), patch],
        Ops =
        [
            new DeltaOp(DeltaOpCode.SetReadSource, 0),
            new DeltaOp(DeltaOpCode.Open, size),
            new DeltaOp(DeltaOpCode.BsPatch, Checksum.Size, patch.Length),
            new DeltaOp(DeltaOpCode.Close),
            new DeltaOp(DeltaOpCode.UnsetReadSource),
        ],
        USize = size,
        PlacementSize = 0,
    };
}
