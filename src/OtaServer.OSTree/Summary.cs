namespace OtaServer.OSTree;

/// <summary>A ref as listed in the summary.</summary>
/// <param name="Name">Ref name, e.g. "exampleos/x86_64/stable".</param>
/// <param name="Commit">Commit checksum.</param>
/// <param name="CommitSize">Length of the .commit file (the client's download limit for it; 0 disables the check).</param>
/// <param name="CommitTimestamp">Seconds since the epoch (ostree.commit.timestamp, big-endian on the wire), if known.</param>
/// <param name="Version">ostree.commit.version, if the commit has a "version".</param>
public sealed record SummaryRef(string Name, Checksum Commit, ulong CommitSize, ulong? CommitTimestamp = null, string? Version = null);

/// <summary>A static delta listed in the summary / a delta index: name → SHA-256 of its superblock file.</summary>
public sealed record SummaryDelta(DeltaName Name, Checksum SuperblockChecksum);

/// <summary>Summary keys written besides refs and deltas.</summary>
public sealed record SummaryOptions
{
    /// <summary>ostree.summary.indexed-deltas (ostree summary -u always writes true).</summary>
    public bool IndexedDeltas { get; init; } = true;

    /// <summary>ostree.summary.mode; only written when set. With <see cref="TombstoneCommits"/> it makes clients fetch config.</summary>
    public string? Mode { get; init; }

    /// <summary>ostree.summary.tombstone-commits; only written when set.</summary>
    public bool? TombstoneCommits { get; init; }

    /// <summary>ostree.summary.last-modified (big-endian seconds); only written when set.</summary>
    public DateTimeOffset? LastModified { get; init; }

    /// <summary>More a{sv} entries appended after the standard keys (values unboxed), e.g. ostree.summary.expires.</summary>
    public IReadOnlyList<KeyValuePair<string, GVariant>> ExtraMetadata { get; init; } = [];
}

/// <summary>
/// The repository summary <c>(a(s(taya{sv}))a{sv})</c> (§5.1). <see cref="SummaryWriter"/> writes it, <see cref="Parse"/>
/// reads it (normal form required, as the client requires).
/// </summary>
public sealed class Summary
{
    public const string TypeString = "(a(s(taya{sv}))a{sv})";

    public static readonly GVariantType VariantType = GVariantType.Parse(TypeString);

    public const string StaticDeltasKey = "ostree.static-deltas";
    public const string IndexedDeltasKey = "ostree.summary.indexed-deltas";
    public const string ModeKey = "ostree.summary.mode";
    public const string TombstoneCommitsKey = "ostree.summary.tombstone-commits";
    public const string LastModifiedKey = "ostree.summary.last-modified";
    public const string ExpiresKey = "ostree.summary.expires";
    public const string CommitTimestampKey = "ostree.commit.timestamp";
    public const string CommitVersionKey = "ostree.commit.version";

    private Summary(GVariant value, IReadOnlyList<SummaryRef> refs, IReadOnlyList<SummaryDelta> deltas)
    {
        Value = value;
        Refs = refs;
        Deltas = deltas;
    }

    /// <summary>The whole parsed GVariant (re-serializes byte for byte).</summary>
    public GVariant Value { get; }

    /// <summary>Refs in file order (sorted bytewise in a valid summary).</summary>
    public IReadOnlyList<SummaryRef> Refs { get; }

    public IReadOnlyList<SummaryDelta> Deltas { get; }

    /// <summary>The additional-metadata a{sv} (member 1).</summary>
    public GVariant Metadata => Value[1];

    public bool IndexedDeltas => Metadata.Lookup(IndexedDeltasKey) is { } v && v.Type == GVariantType.Boolean && v.GetBoolean();

    public string? Mode => Metadata.Lookup(ModeKey) is { } v && v.Type == GVariantType.String ? v.GetString() : null;

    public bool? TombstoneCommits => Metadata.Lookup(TombstoneCommitsKey) is { } v && v.Type == GVariantType.Boolean ? v.GetBoolean() : null;

    public DateTimeOffset? LastModified => Metadata.Lookup(LastModifiedKey) is { } v && v.Type == GVariantType.UInt64
        ? DateTimeOffset.FromUnixTimeSeconds((long)Math.Min(v.GetUInt64BigEndian(), 253402300799UL))
        : null;

    /// <summary>True if the ref names are in strictly increasing bytewise order (the client binary-searches them).</summary>
    public bool RefsSorted => Refs.Zip(Refs.Skip(1)).All(p => Utf8Ordinal.Instance.Compare(p.First.Name, p.Second.Name) < 0);

    public SummaryRef? FindRef(string name) => Refs.FirstOrDefault(r => r.Name == name);

    public byte[] Serialize() => Value.Serialize();

    /// <exception cref="FormatException">Not a valid summary in normal form.</exception>
    public static Summary Parse(ReadOnlySpan<byte> data)
    {
        var v = GVariant.ParseNormalForm(VariantType, data.ToArray());
        var refs = v[0].Items.Select(ParseRef).ToArray();
        return new Summary(v, refs, ParseDeltas(v[1]));
    }

    private static SummaryRef ParseRef(GVariant entry)
    {
        var name = entry[0].GetString();
        var info = entry[1];
        var meta = info[2];
        ulong? ts = meta.Lookup(CommitTimestampKey) is { } t && t.Type == GVariantType.UInt64 ? t.GetUInt64BigEndian() : null;
        string? version = meta.Lookup(CommitVersionKey) is { } ver && ver.Type == GVariantType.String ? ver.GetString() : null;
        return new SummaryRef(name, Commit.ReadChecksum(info[1], $"ref '{name}'"), info[0].GetUInt64(), ts, version);
    }

    /// <summary>Reads the ostree.static-deltas entry of an a{sv} (summary metadata or a delta index).</summary>
    internal static SummaryDelta[] ParseDeltas(GVariant metadata)
    {
        if (metadata.Lookup(StaticDeltasKey) is not { } deltas)
            return [];
        if (deltas.Type != GVariantType.VarDict)
            throw new FormatException($"{StaticDeltasKey} is a '{deltas.Type}', expected a{{sv}}.");
        return deltas.DictEntries().Select(kv =>
        {
            if (!DeltaName.TryParse(kv.Key, out var name))
                throw new FormatException($"'{kv.Key}' is not a delta name.");
            if (kv.Value.Type != GVariantType.ByteArray)
                throw new FormatException($"Delta {kv.Key} digest is a '{kv.Value.Type}', expected ay.");
            return new SummaryDelta(name, Commit.ReadChecksum(kv.Value, $"delta {kv.Key} superblock"));
        }).ToArray();
    }

    internal static GVariant DeltasDict(IEnumerable<SummaryDelta> deltas) =>
        GVariant.VarDict(deltas.Select(d => KeyValuePair.Create(d.Name.ToString(), GVariant.Bytes(d.SuperblockChecksum.ToArray()))));
}

/// <summary>Writes <c>summary</c> files (§5.1, §9).</summary>
public static class SummaryWriter
{
    /// <summary>
    /// Builds the summary bytes: refs sorted bytewise with commit size, checksum and per-ref
    /// ostree.commit.timestamp / ostree.commit.version; then metadata ostree.static-deltas (if any),
    /// ostree.summary.last-modified, .mode, .tombstone-commits (only those set), .indexed-deltas and extras.
    /// </summary>
    /// <exception cref="ArgumentException">Duplicate ref names.</exception>
    public static byte[] Write(IEnumerable<SummaryRef> refs, IEnumerable<SummaryDelta> deltas, SummaryOptions? options = null) =>
        Build(refs, deltas, options).Serialize();

    public static GVariant Build(IEnumerable<SummaryRef> refs, IEnumerable<SummaryDelta> deltas, SummaryOptions? options = null)
    {
        options ??= new SummaryOptions();
        var sorted = refs.OrderBy(r => r.Name, Utf8Ordinal.Instance).ToArray();
        for (int i = 1; i < sorted.Length; i++)
        {
            if (sorted[i].Name == sorted[i - 1].Name)
                throw new ArgumentException($"Ref '{sorted[i].Name}' is listed twice.", nameof(refs));
        }
        var refArray = GVariant.Array("(s(taya{sv}))", sorted.Select(r =>
        {
            var meta = new List<KeyValuePair<string, GVariant>>();
            if (r.CommitTimestamp is { } ts)
                meta.Add(KeyValuePair.Create(Summary.CommitTimestampKey, GVariant.UInt64BigEndian(ts)));
            if (r.Version is { } ver)
                meta.Add(KeyValuePair.Create(Summary.CommitVersionKey, GVariant.String(ver)));
            return GVariant.Tuple(GVariant.String(r.Name),
                GVariant.Tuple(GVariant.UInt64(r.CommitSize), GVariant.Bytes(r.Commit.ToArray()), GVariant.VarDict(meta)));
        }));

        var md = new List<KeyValuePair<string, GVariant>>();
        var deltaList = deltas.OrderBy(d => d.Name.ToString(), StringComparer.Ordinal).ToArray();
        if (deltaList.Length > 0)
            md.Add(KeyValuePair.Create(Summary.StaticDeltasKey, Summary.DeltasDict(deltaList)));
        if (options.LastModified is { } lm)
            md.Add(KeyValuePair.Create(Summary.LastModifiedKey, GVariant.UInt64BigEndian((ulong)Math.Max(0, lm.ToUnixTimeSeconds()))));
        if (options.Mode is { } mode)
            md.Add(KeyValuePair.Create(Summary.ModeKey, GVariant.String(mode)));
        if (options.TombstoneCommits is { } tomb)
            md.Add(KeyValuePair.Create(Summary.TombstoneCommitsKey, GVariant.Boolean(tomb)));
        if (options.IndexedDeltas)
            md.Add(KeyValuePair.Create(Summary.IndexedDeltasKey, GVariant.Boolean(true)));
        md.AddRange(options.ExtraMetadata);
        return GVariant.Tuple(refArray, GVariant.VarDict(md));
    }
}

/// <summary>Delta index files <c>delta-indexes/XX/rest.index</c> (§5.3): a{sv} { ostree.static-deltas: a{sv} }.</summary>
public static class DeltaIndex
{
    /// <summary>
    /// The index for target <paramref name="to"/>: only deltas whose target is <paramref name="to"/>, sorted by from
    /// checksum (from-scratch first).
    /// </summary>
    public static byte[] Write(Checksum to, IEnumerable<SummaryDelta> deltas)
    {
        var mine = deltas.Where(d => d.Name.To == to)
            .OrderBy(d => d.Name.From.HasValue)
            .ThenBy(d => d.Name.From ?? default)
            .ToArray();
        return GVariant.VarDict((Summary.StaticDeltasKey, Summary.DeltasDict(mine))).Serialize();
    }

    /// <summary>Reads an index file (normal form required).</summary>
    public static IReadOnlyList<SummaryDelta> Parse(ReadOnlySpan<byte> data) =>
        Summary.ParseDeltas(GVariant.ParseNormalForm(GVariantType.VarDict, data.ToArray()));
}
