namespace OtaServer.Serving;

/// <summary>What a served file is: decides its ETag source, its Cache-Control and the commitmeta hold.</summary>
internal enum RepositoryFileKind : byte
{
    /// <summary><c>objects/XX/&lt;62 hex&gt;.{commit,dirtree,dirmeta,filez}</c>: content-addressed, named by its checksum.</summary>
    Object,
    /// <summary><c>objects/XX/&lt;62 hex&gt;.commitmeta</c>: detached metadata; may change (signatures are added).</summary>
    CommitMeta,
    /// <summary><c>objects/XX/&lt;62 hex&gt;.commit-tombstone</c>.</summary>
    Tombstone,
    /// <summary><c>deltas/…/superblock</c>: rewritten (revalidated by caches) when the target's detached metadata changes.</summary>
    DeltaSuperblock,
    /// <summary><c>deltas/…/&lt;n&gt;</c>: a delta part, immutable once written.</summary>
    DeltaPart,
    /// <summary><c>deltas/…/stats.json</c>: the delta's sizes (for a device's free-space check), written with it.</summary>
    DeltaStats,
    /// <summary><c>delta-indexes/XX/&lt;41&gt;.index</c>.</summary>
    DeltaIndex,
    /// <summary><c>refs/heads/…</c> or <c>refs/mirrors/…</c>.</summary>
    Ref,
    Summary,
    SummarySignature,
    Config,
}

internal enum PathVerdict : byte
{
    /// <summary>A well-formed path to a kind of file the origin serves (it may still be absent: 404).</summary>
    Serve,
    /// <summary>Malformed or hostile (dot segments, encoded separators, unexpected characters, overlong): 400.</summary>
    BadRequest,
    /// <summary>Well-formed but never served (directories, internal folders, dot-files, unknown layout): 404.</summary>
    NotServed,
}

/// <summary>
/// The one gate every request path goes through before it touches the file system.
/// It accepts only the archive-repository layout (spec §3) spelled with the characters that layout uses,
/// so no accepted path can leave the repository root or reach <c>tmp/</c>, <c>state/</c>,
/// <c>extensions/</c>, <c>.lock</c>, dot-files or staging files.
/// </summary>
internal static class RepositoryPathGuard
{
    public const int MaxPathLength = 1024;
    public const int MaxSegmentLength = 255;

    private const int Mb64ChecksumLength = 43;

    /// <summary>Checks <paramref name="path"/> (relative to the repository root, as decoded by the server).</summary>
    public static PathVerdict Check(ReadOnlySpan<char> path, out RepositoryFileKind kind)
    {
        kind = default;
        if (path.IsEmpty)
            return PathVerdict.NotServed; // the repository root is a directory
        if (path.Length > MaxPathLength)
            return PathVerdict.BadRequest;

        // Pass 1: the alphabet. Only [A-Za-z0-9._+-] and '/' appear in an archive repository (hex, modified
        // base64, ref names, part numbers). This excludes '%', '\\', NUL, ':', '~', spaces and non-ASCII.
        foreach (var c in path)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c is not ('/' or '.' or '_' or '-' or '+'))
                return PathVerdict.BadRequest;
        }

        // Pass 2: segments. No empty segment ("a//b", "/abs"), no dot segment, nothing overlong; dot-files are internal.
        var segments = 0;
        var start = 0;
        var verdict = PathVerdict.Serve;
        for (var i = 0; i <= path.Length; i++)
        {
            if (i < path.Length && path[i] != '/')
                continue;
            var length = i - start;
            if (length == 0)
            {
                if (i < path.Length || segments == 0)
                    return PathVerdict.BadRequest;
                verdict = PathVerdict.NotServed; // "dir/": a directory
            }
            else if (length > MaxSegmentLength)
            {
                return PathVerdict.BadRequest;
            }
            else if (path[start] == '.')
            {
                if (length == 1 || (length == 2 && path[start + 1] == '.'))
                    return PathVerdict.BadRequest;
                verdict = PathVerdict.NotServed;
            }
            segments++;
            start = i + 1;
        }
        if (verdict != PathVerdict.Serve)
            return verdict;

        // Pass 3: the layout. Anything not listed here (tmp/, state/, extensions/, refs/remotes/, staging names) is not served.
        var slash = path.IndexOf('/');
        var top = slash < 0 ? path : path[..slash];
        var rest = slash < 0 ? [] : path[(slash + 1)..];
        switch (top)
        {
            case "summary" when segments == 1:
                kind = RepositoryFileKind.Summary;
                return PathVerdict.Serve;
            case "summary.sig" when segments == 1:
                kind = RepositoryFileKind.SummarySignature;
                return PathVerdict.Serve;
            case "config" when segments == 1:
                kind = RepositoryFileKind.Config;
                return PathVerdict.Serve;
            case "objects" when segments == 3:
                return CheckObject(rest, out kind);
            case "deltas" when segments == 4:
                return CheckDelta(rest, out kind);
            case "delta-indexes" when segments == 3:
                return CheckDeltaIndex(rest, out kind);
            case "refs" when segments >= 3 && (rest.StartsWith("heads/") || rest.StartsWith("mirrors/")):
                kind = RepositoryFileKind.Ref;
                return PathVerdict.Serve;
            default:
                return PathVerdict.NotServed;
        }
    }

    // "XX/<62 hex>.<type>"
    private static PathVerdict CheckObject(ReadOnlySpan<char> rest, out RepositoryFileKind kind)
    {
        kind = default;
        if (rest.Length < 2 + 1 + 62 + 1 || rest[2] != '/' || rest[65] != '.'
            || !IsLowerHex(rest[..2]) || !IsLowerHex(rest.Slice(3, 62)))
        {
            return PathVerdict.NotServed;
        }

        switch (rest[66..])
        {
            case "commit" or "dirtree" or "dirmeta" or "filez":
                kind = RepositoryFileKind.Object;
                return PathVerdict.Serve;
            case "commitmeta":
                kind = RepositoryFileKind.CommitMeta;
                return PathVerdict.Serve;
            case "commit-tombstone":
                kind = RepositoryFileKind.Tombstone;
                return PathVerdict.Serve;
            default:
                return PathVerdict.NotServed;
        }
    }

    // "<F[0:2]>/<F[2:]>-<T>/<file>" or "<T[0:2]>/<T[2:]>/<file>"; file = "superblock", a part number or "stats.json".
    private static PathVerdict CheckDelta(ReadOnlySpan<char> rest, out RepositoryFileKind kind)
    {
        kind = default;
        if (!TrySplitDeltaFolder(rest, out _, out var file))
            return PathVerdict.NotServed;
        if (file is "superblock")
        {
            kind = RepositoryFileKind.DeltaSuperblock;
            return PathVerdict.Serve;
        }
        if (TryParsePartNumber(file, out _))
        {
            kind = RepositoryFileKind.DeltaPart;
            return PathVerdict.Serve;
        }
        if (file is "stats.json")
        {
            kind = RepositoryFileKind.DeltaStats;
            return PathVerdict.Serve;
        }
        return PathVerdict.NotServed;
    }

    // "<T[0:2]>/<T[2:]>.index"
    private static PathVerdict CheckDeltaIndex(ReadOnlySpan<char> rest, out RepositoryFileKind kind)
    {
        kind = default;
        const int length = 2 + 1 + (Mb64ChecksumLength - 2) + 6;
        if (rest.Length != length || rest[2] != '/' || !rest.EndsWith(".index")
            || !IsMb64(rest[..2]) || !IsMb64(rest.Slice(3, Mb64ChecksumLength - 2)))
        {
            return PathVerdict.NotServed;
        }

        kind = RepositoryFileKind.DeltaIndex;
        return PathVerdict.Serve;
    }

    /// <summary>Splits "AA/BBB…/file" (below <c>deltas/</c>) into the two folder segments and the file name, checking their shape.</summary>
    internal static bool TrySplitDeltaFolder(ReadOnlySpan<char> rest, out ReadOnlySpan<char> folder, out ReadOnlySpan<char> file)
    {
        folder = default;
        file = default;
        if (rest.Length < 4 || rest[2] != '/' || !IsMb64(rest[..2]))
            return false;
        var afterPrefix = rest[3..];
        var slash = afterPrefix.IndexOf('/');
        if (slash < 0)
            return false;
        var name = afterPrefix[..slash];
        var scratch = name.Length == Mb64ChecksumLength - 2 && IsMb64(name);
        var fromTo = name.Length == Mb64ChecksumLength - 2 + 1 + Mb64ChecksumLength && name[Mb64ChecksumLength - 2] == '-'
            && IsMb64(name[..(Mb64ChecksumLength - 2)]) && IsMb64(name[(Mb64ChecksumLength - 1)..]);
        if (!scratch && !fromTo)
            return false;
        folder = rest[..(3 + slash)];
        file = afterPrefix[(slash + 1)..];
        return true;
    }

    /// <summary>Decimal part number as ostree writes it ("0", "1", … no leading zeros, no sign).</summary>
    internal static bool TryParsePartNumber(ReadOnlySpan<char> name, out int index)
    {
        index = 0;
        if (name.IsEmpty || name.Length > 9 || (name[0] == '0' && name.Length > 1))
            return false;
        foreach (var c in name)
        {
            if (!char.IsAsciiDigit(c))
                return false;
            index = index * 10 + (c - '0');
        }
        return true;
    }

    private static bool IsLowerHex(ReadOnlySpan<char> s)
    {
        foreach (var c in s)
        {
            if (!char.IsAsciiDigit(c) && c is not (>= 'a' and <= 'f'))
                return false;
        }

        return true;
    }

    private static bool IsMb64(ReadOnlySpan<char> s)
    {
        foreach (var c in s)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c is not ('+' or '_'))
                return false;
        }

        return true;
    }
}
