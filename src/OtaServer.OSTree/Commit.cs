namespace OtaServer.OSTree;

/// <summary>An entry of a commit's related-objects list <c>a(say)</c>.</summary>
public sealed record RelatedObject(string Name, Checksum Checksum);

/// <summary>
/// A commit object <c>(a{sv}aya(say)sstayay)</c> (ostree-format.md §4.1). The timestamp is big-endian on the wire;
/// <see cref="Timestamp"/> holds the decoded seconds. Parse + Serialize is byte-exact for normal-form input.
/// </summary>
public sealed class Commit
{
    public const string TypeString = "(a{sv}aya(say)sstayay)";

    public static readonly GVariantType VariantType = GVariantType.Parse(TypeString);

    /// <summary>Commit metadata, an <c>a{sv}</c> (e.g. "version", "ostree.ref-binding").</summary>
    public GVariant Metadata { get; init; } = GVariant.EmptyVarDict();

    public Checksum? Parent { get; init; }

    public IReadOnlyList<RelatedObject> RelatedObjects { get; init; } = [];

    public string Subject { get; init; } = "";

    public string Body { get; init; } = "";

    /// <summary>Seconds since the Unix epoch (decoded from the big-endian wire value).</summary>
    public ulong Timestamp { get; init; }

    public required Checksum RootDirTree { get; init; }

    public required Checksum RootDirMeta { get; init; }

    public DateTimeOffset TimestampUtc => DateTimeOffset.FromUnixTimeSeconds((long)Math.Min(Timestamp, 253402300799UL)); // clamp to year 9999

    /// <summary>The "version" metadata string, if present.</summary>
    public string? Version =>
        Metadata.TryLookup("version", out var v) && v.Type == GVariantType.String ? v.GetString() : null;

    /// <summary>Parses a commit; requires normal form and 32-byte checksums.</summary>
    /// <exception cref="FormatException">Not a valid commit.</exception>
    public static Commit Parse(ReadOnlySpan<byte> data)
    {
        var v = GVariant.ParseNormalForm(VariantType, data.ToArray());
        var parent = v[1].GetBytes();
        if (parent.Length is not (0 or Checksum.Size))
            throw new FormatException($"Commit parent checksum is {parent.Length} bytes; expected 0 or 32.");
        foreach (var kv in v[0].Items)
        {
            if (kv[0].GetString().Length == 0)
                throw new FormatException("Commit metadata has an empty key.");
        }
        return new Commit
        {
            Metadata = v[0],
            Parent = parent.Length == 0 ? null : Checksum.FromBytes(parent.Span),
            RelatedObjects = v[2].Items.Select(r => new RelatedObject(r[0].GetString(), ReadChecksum(r[1], "related object"))).ToArray(),
            Subject = v[3].GetString(),
            Body = v[4].GetString(),
            Timestamp = v[5].GetUInt64BigEndian(),
            RootDirTree = ReadChecksum(v[6], "root dirtree"),
            RootDirMeta = ReadChecksum(v[7], "root dirmeta"),
        };
    }

    internal static Checksum ReadChecksum(GVariant ay, string what)
    {
        var b = ay.GetBytes();
        if (b.Length != Checksum.Size)
            throw new FormatException($"The {what} checksum is {b.Length} bytes; expected 32.");
        return Checksum.FromBytes(b.Span);
    }

    public GVariant ToGVariant() => GVariant.Tuple(
        Metadata.Type == GVariantType.VarDict ? Metadata : throw new InvalidOperationException("Commit metadata must be an a{sv}."),
        GVariant.Bytes(Parent?.ToArray() ?? []),
        GVariant.Array("(say)", RelatedObjects.Select(r => GVariant.Tuple(GVariant.String(r.Name), GVariant.Bytes(r.Checksum.ToArray())))),
        GVariant.String(Subject),
        GVariant.String(Body),
        GVariant.UInt64BigEndian(Timestamp),
        GVariant.Bytes(RootDirTree.ToArray()),
        GVariant.Bytes(RootDirMeta.ToArray()));

    /// <summary>Normal-form bytes (what goes into the .commit file).</summary>
    public byte[] Serialize() => ToGVariant().Serialize();

    /// <summary>SHA-256 of <see cref="Serialize"/>: the commit's checksum.</summary>
    public Checksum ComputeChecksum() => Checksum.Compute(Serialize());
}
