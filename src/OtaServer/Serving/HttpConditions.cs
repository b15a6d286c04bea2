using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;

namespace OtaServer.Serving;

/// <summary>A satisfiable byte range of a file: <c>Start</c> … <c>Start + Length - 1</c>.</summary>
internal readonly record struct ByteRange(long Start, long Length)
{
    public long End => Start + Length - 1;
}

internal enum PreconditionResult
{
    Proceed,
    /// <summary>304: If-None-Match matched or If-Modified-Since not passed.</summary>
    NotModified,
    /// <summary>412: If-Match did not match or If-Unmodified-Since passed.</summary>
    Failed,
}

internal enum RangeResult
{
    /// <summary>No usable Range: send the whole file (also for bad syntax, other units, stale If-Range, or too many / overlapping ranges).</summary>
    Full,
    Partial,
    /// <summary>416.</summary>
    NotSatisfiable,
}

/// <summary>
/// RFC 9110 conditional requests (§13) and byte ranges (§14) for one file representation.
/// Only touched when the request carries the headers, so the plain GET stays allocation-free.
/// </summary>
internal static class HttpConditions
{
    /// <summary>Evaluates If-Match, If-Unmodified-Since, If-None-Match and If-Modified-Since in the order of RFC 9110 §13.2.2.</summary>
    public static PreconditionResult EvaluatePreconditions(IHeaderDictionary headers, string etag, DateTimeOffset lastModified)
    {
        var ifMatch = headers.IfMatch;
        if (ifMatch.Count > 0)
        {
            if (!AnyMatches(ifMatch, etag, strong: true))
                return PreconditionResult.Failed;
        }
        else if (TryGetDate(headers.IfUnmodifiedSince, out var unmodifiedSince) && lastModified > unmodifiedSince)
        {
            return PreconditionResult.Failed;
        }

        var ifNoneMatch = headers.IfNoneMatch;
        if (ifNoneMatch.Count > 0)
            return AnyMatches(ifNoneMatch, etag, strong: false) ? PreconditionResult.NotModified : PreconditionResult.Proceed;
        if (TryGetDate(headers.IfModifiedSince, out var modifiedSince) && lastModified <= modifiedSince)
            return PreconditionResult.NotModified;
        return PreconditionResult.Proceed;
    }

    /// <summary>
    /// Resolves the Range header (GET only) against a file of <paramref name="length"/> bytes.
    /// Honours If-Range (strong ETag or exact Last-Modified). More than <paramref name="maxRanges"/>
    /// ranges, or ranges adding up to more than the file (overlaps), are ignored: the whole file is sent.
    /// </summary>
    public static RangeResult EvaluateRange(IHeaderDictionary headers, string etag, DateTimeOffset lastModified, long length,
        int maxRanges, out ByteRange[] ranges)
    {
        ranges = [];
        var range = headers.Range;
        if (range.Count != 1 || !RangeHeaderValue.TryParse(range[0], out var parsed)
            || !string.Equals(parsed.Unit.Value, "bytes", StringComparison.OrdinalIgnoreCase))
        {
            return RangeResult.Full;
        }

        var ifRange = headers.IfRange;
        if (ifRange.Count > 0 && !IfRangeMatches(ifRange, etag, lastModified))
            return RangeResult.Full;
        var items = parsed.Ranges;
        if (items.Count > maxRanges)
            return RangeResult.Full;

        var result = new List<ByteRange>(items.Count);
        long total = 0;
        foreach (var item in items)
        {
            long start, end;
            if (item.From is { } from)
            {
                if (from >= length)
                    continue;
                start = from;
                end = item.To is { } to && to < length - 1 ? to : length - 1;
            }
            else if (item.To is { } suffix && suffix > 0 && length > 0)
            {
                start = Math.Max(0, length - suffix);
                end = length - 1;
            }
            else
            {
                continue;
            }

            result.Add(new ByteRange(start, end - start + 1));
            total += end - start + 1;
        }
        if (result.Count == 0)
            return RangeResult.NotSatisfiable;
        if (result.Count > 1 && total > length)
            return RangeResult.Full;
        ranges = [.. result];
        return RangeResult.Partial;
    }

    private static bool IfRangeMatches(StringValues ifRange, string etag, DateTimeOffset lastModified)
    {
        if (ifRange.Count != 1 || ifRange[0] is not { Length: > 0 } value)
            return false;
        if (value[0] == '"' || value.StartsWith("W/", StringComparison.Ordinal))
            return EntityTagHeaderValue.TryParse(value, out var tag) && tag.Compare(new EntityTagHeaderValue(etag), useStrongComparison: true);
        return HeaderUtilities.TryParseDate(value, out var date) && date == lastModified;
    }

    private static bool AnyMatches(StringValues header, string etag, bool strong)
    {
        if (!EntityTagHeaderValue.TryParseList(header, out var tags))
            return false;
        var current = new EntityTagHeaderValue(etag);
        foreach (var tag in tags)
        {
            if (tag.Equals(EntityTagHeaderValue.Any) || tag.Compare(current, strong))
                return true;
        }

        return false;
    }

    private static bool TryGetDate(StringValues header, out DateTimeOffset date)
    {
        date = default;
        return header.Count == 1 && HeaderUtilities.TryParseDate(header[0], out date);
    }

    /// <summary>HTTP dates have whole seconds; compare and send Last-Modified at that precision.</summary>
    public static DateTimeOffset TruncateToSeconds(DateTime utc) =>
        new(utc.Ticks - utc.Ticks % TimeSpan.TicksPerSecond, TimeSpan.Zero);
}
