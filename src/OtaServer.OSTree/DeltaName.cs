using System.Diagnostics.CodeAnalysis;

namespace OtaServer.OSTree;

/// <summary>
/// Identifies a static delta: from (null for a from-scratch delta) → to. Text form (summary / index key) is
/// "FROMHEX-TOHEX" or "TOHEX". Paths (§6.1): <c>deltas/&lt;F[0:2]&gt;/&lt;F[2:]&gt;-&lt;T&gt;</c> or
/// <c>deltas/&lt;T[0:2]&gt;/&lt;T[2:]&gt;</c> with F, T the modified-base64 checksums.
/// </summary>
public readonly record struct DeltaName(Checksum? From, Checksum To)
{
    public bool IsFromScratch => From is null;

    /// <summary>"FROMHEX-TOHEX" or "TOHEX" (the key used in the summary and delta indexes).</summary>
    public override string ToString() => From is { } f ? $"{f}-{To}" : To.ToString();

    public static DeltaName Parse(string text) =>
        TryParse(text, out var n) ? n : throw new FormatException($"'{text}' is not a delta name (FROMHEX-TOHEX or TOHEX).");

    public static bool TryParse([NotNullWhen(true)] string? text, out DeltaName name)
    {
        name = default;
        if (text is null)
            return false;
        if (text.Length == Checksum.HexLength)
        {
            if (!Checksum.TryParse(text, out var to))
                return false;
            name = new DeltaName(null, to);
            return true;
        }
        if (text.Length == 2 * Checksum.HexLength + 1 && text[Checksum.HexLength] == '-'
            && Checksum.TryParse(text.AsSpan(0, Checksum.HexLength), out var from)
            && Checksum.TryParse(text.AsSpan(Checksum.HexLength + 1), out var to2))
        {
            name = new DeltaName(from, to2);
            return true;
        }
        return false;
    }

    /// <summary>"deltas/XX/rest" (no trailing slash).</summary>
    public string RelativeDirectory
    {
        get
        {
            if (From is { } f)
            {
                var fm = f.ToMb64();
                return $"deltas/{fm[..2]}/{fm[2..]}-{To.ToMb64()}";
            }
            var tm = To.ToMb64();
            return $"deltas/{tm[..2]}/{tm[2..]}";
        }
    }

    /// <summary>"deltas/…/superblock".</summary>
    public string SuperblockRelativePath => RelativeDirectory + "/superblock";

    /// <summary>"deltas/…/&lt;index&gt;" — also the superblock metadata key of an inline part.</summary>
    public string PartRelativePath(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        return RelativeDirectory + "/" + index.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>"deltas/…/commitmeta": superblock metadata key for the target's detached metadata.</summary>
    public string CommitMetaKey => RelativeDirectory + "/commitmeta";

    /// <summary>
    /// Parses a delta directory path: anything ending in "deltas/XX/rest" (optionally followed by "/superblock"
    /// or "/&lt;part&gt;"; leading folders ignored; '\' accepted).
    /// </summary>
    public static bool TryParseRelativePath([NotNullWhen(true)] string? path, out DeltaName name)
    {
        name = default;
        if (path is null)
            return false;
        var parts = path.Replace('\\', '/').TrimEnd('/').Split('/');
        int n = parts.Length;
        // Try "…/deltas/XX/rest" and "…/deltas/XX/rest/<file>".
        for (int drop = 0; drop <= 1; drop++)
        {
            int end = n - drop;
            if (end < 3 || parts[end - 3] != "deltas")
                continue;
            if (drop == 1 && !IsDeltaFileName(parts[n - 1]))
                continue;
            if (TryParseDirectory(parts[end - 2], parts[end - 1], out name))
                return true;
        }
        return false;
    }

    private static bool IsDeltaFileName(string file) =>
        file == "superblock" || (file.Length > 0 && file.All(char.IsAsciiDigit));

    private static bool TryParseDirectory(string prefix, string rest, out DeltaName name)
    {
        name = default;
        if (prefix.Length != 2)
            return false;
        if (rest.Length == 41)
        {
            if (!Checksum.TryFromMb64(prefix + rest, out var to))
                return false;
            name = new DeltaName(null, to);
            return true;
        }
        if (rest.Length == 41 + 1 + 43 && rest[41] == '-'
            && Checksum.TryFromMb64(prefix + rest[..41], out var from)
            && Checksum.TryFromMb64(rest[42..], out var to2))
        {
            name = new DeltaName(from, to2);
            return true;
        }
        return false;
    }

    /// <summary>"delta-indexes/XX/rest.index" for the deltas whose target is <paramref name="to"/> (§5.3).</summary>
    public static string IndexRelativePath(Checksum to)
    {
        var tm = to.ToMb64();
        return $"delta-indexes/{tm[..2]}/{tm[2..]}.index";
    }

    /// <summary>Parses a path ending in "delta-indexes/XX/rest.index" back to the target checksum.</summary>
    public static bool TryParseIndexRelativePath([NotNullWhen(true)] string? path, out Checksum to)
    {
        to = default;
        if (path is null)
            return false;
        var parts = path.Replace('\\', '/').Split('/');
        int n = parts.Length;
        if (n < 3 || parts[n - 3] != "delta-indexes" || parts[n - 2].Length != 2 || !parts[n - 1].EndsWith(".index", StringComparison.Ordinal))
            return false;
        var rest = parts[n - 1][..^".index".Length];
        return rest.Length == 41 && Checksum.TryFromMb64(parts[n - 2] + rest, out to);
    }
}
