using System.Buffers;
using System.Globalization;
using System.IO.Pipelines;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;
using OtaServer.OSTree;
using OtaServer.Repositories;
using OtaServer.Repositories.Storage;

namespace OtaServer.Serving;

/// <summary>
/// The "dumb" HTTP origin: GET/HEAD of the archive tree of each repository, with exact Content-Length,
/// strong content-derived ETags, Last-Modified, conditional requests, single and multipart byte ranges,
/// and per-kind Cache-Control. Every path goes through <see cref="RepositoryPathGuard"/>; a missing file,
/// a directory or an internal file is 404, never 500 (the 2022.7 client retries 500).
/// </summary>
internal sealed partial class RepositoryFileServer(
    RepositoryRegistry registry,
    ContentHashCache hashes,
    SmallObjectCache objects,
    DeltaDownloadTracker deltas,
    SummaryPairs pairs,
    IProblemDetailsService problems,
    IOptions<ServingOptions> options,
    ILogger<RepositoryFileServer> logger)
{
    /// <summary>Read size for large bodies (one pread per chunk, then one flush).</summary>
    private const int CopyChunk = 128 * 1024;
    /// <summary>Mutable files up to this size are read whole and hashed on every request (exact, no cache).</summary>
    private const int SmallMutableFile = 256 * 1024;
    private const int MaxPartsCounted = 10_000;

    private static readonly StringValues OctetStream = "application/octet-stream";
    private static readonly StringValues Immutable = "public, max-age=31536000, immutable";
    private static readonly StringValues NoCache = "no-cache";
    private static readonly StringValues AcceptBytes = "bytes";

    private readonly int _maxRanges = options.Value.MaxRanges;

    /// <summary>The endpoint form (<see cref="ServingFeature.RoutePattern"/>), used when repository files need a token.</summary>
    public Task ServeRouteAsync(HttpContext context)
    {
        var values = context.Request.RouteValues;
        return ServeAsync(context, values["repo"] as string ?? string.Empty, values["path"] as string ?? string.Empty);
    }

    public async Task ServeAsync(HttpContext context, string repository, string path)
    {
        if (!registry.TryGet(repository, out var repo))
        {
            await ProblemAsync(context, StatusCodes.Status404NotFound, Http.Problems.UnknownRepositoryTitle,
                Http.Problems.UnknownRepositoryDetail(repository, registry.Names));
            return;
        }
        switch (RepositoryPathGuard.Check(path, out var kind))
        {
            case PathVerdict.BadRequest:
                await ProblemAsync(context, StatusCodes.Status400BadRequest, "Invalid repository path",
                    "Repository paths use only letters, digits and '._+-', separated by single '/', without dot segments or encoded separators.");
                return;
            case PathVerdict.NotServed:
                await NotFoundAsync(context, repository, path);
                return;
        }

        if (kind == RepositoryFileKind.Object && objects.TryGet(repository, path, out var cached))
        {
            await RespondAsync(context, null, cached.Content, cached.Content.Length, cached.ETag, cached.LastModified,
                cached.LastModifiedHeader, kind, repo, path);
            return;
        }

        if (kind == RepositoryFileKind.CommitMeta && deltas.Enabled)
        {
            try
            {
                await deltas.HoldCommitMetaAsync(DeltaDownloadTracker.ClientKey(context),
                    string.Concat(path.AsSpan(8, 2), path.AsSpan(11, 62)), context.RequestAborted);
            }
            catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
            {
                return; // the client went away while held
            }
        }

        if (kind is RepositoryFileKind.Summary or RepositoryFileKind.SummarySignature)
        {
            // One generation per connection: the summary that goes with the summary.sig it fetched.
            var generation = kind == RepositoryFileKind.SummarySignature
                ? pairs.Latest(repository)
                : pairs.PinnedFor(context.Connection.Id, repository) ?? pairs.Latest(repository);
            if (generation is not null)
            {
                if (kind == RepositoryFileKind.SummarySignature)
                    pairs.SignatureServed(context.Connection.Id, repository, generation);
                var bytes = kind == RepositoryFileKind.Summary ? generation.Summary : generation.Signature;
                var published = HttpConditions.TruncateToSeconds(generation.Published.UtcDateTime);
                await RespondAsync(context, null, bytes, bytes.Length, ContentHashCache.HashETag(bytes), published,
                    HeaderUtilities.FormatDate(published), kind, repo, path);
                return;
            }
        }
        var file = TryOpen(repo, path);
        if (file is null)
        {
            await NotFoundAsync(context, repository, path);
            return;
        }
        using (file)
            await ServeFileAsync(context, file, repo, path, kind);
    }

    private async Task ServeFileAsync(HttpContext context, IStoredFile handle, Repository repo, string path, RepositoryFileKind kind)
    {
        var length = handle.Length;
        var lastWrite = handle.LastModified.UtcDateTime;
        var lastModified = HttpConditions.TruncateToSeconds(lastWrite);
        byte[]? content = null;
        byte[]? rented = null;
        try
        {
            string etag;
            switch (kind)
            {
                case RepositoryFileKind.Object:
                    etag = ContentHashCache.ObjectETag(path);
                    if (objects.Enabled && length <= objects.MaxObjectSize)
                    {
                        content = new byte[length];
                        if (!TryReadExactly(handle, content))
                        {
                            context.Abort();
                            return;
                        }
                        var entry = new SmallObjectCache.Entry(repo, content, etag, lastModified, HeaderUtilities.FormatDate(lastModified));
                        objects.Add(repo.Name, path, entry);
                        await RespondAsync(context, null, content, length, etag, lastModified, entry.LastModifiedHeader, kind, repo, path);
                        return;
                    }
                    break;
                case RepositoryFileKind.DeltaSuperblock or RepositoryFileKind.DeltaPart or RepositoryFileKind.DeltaStats:
                    etag = hashes.GetETag(repo.Name + "/" + path, handle, length, lastWrite.Ticks);
                    break;
                default:
                    if (length <= SmallMutableFile)
                    {
                        content = rented = ArrayPool<byte>.Shared.Rent((int)length);
                        if (!TryReadExactly(handle, content.AsSpan(0, (int)length)))
                        {
                            context.Abort(); // truncated under us; a retry sees the new file
                            return;
                        }
                        etag = ContentHashCache.HashETag(content.AsSpan(0, (int)length));
                    }
                    else
                    {
                        etag = hashes.GetETag(repo.Name + "/" + path, handle, length, lastWrite.Ticks);
                    }

                    break;
            }
            await RespondAsync(context, handle, content, length, etag, lastModified, HeaderUtilities.FormatDate(lastModified), kind, repo, path);
        }
        finally
        {
            if (rented is not null)
                ArrayPool<byte>.Shared.Return(rented);
        }
    }

    /// <summary>
    /// Answers for one representation: preconditions (304/412), ranges (206, multipart, 416) or the whole file.
    /// The bytes come from <paramref name="content"/> when given, else from <paramref name="handle"/>.
    /// </summary>
    private async Task RespondAsync(HttpContext context, IStoredFile? handle, byte[]? content, long length, string etag,
        DateTimeOffset lastModified, string lastModifiedHeader, RepositoryFileKind kind, Repository repo, string path)
    {
        var request = context.Request;
        var response = context.Response;
        var requestHeaders = request.Headers;
        var headers = response.Headers;
        headers.ETag = etag;
        headers.LastModified = lastModifiedHeader;
        // Superblocks are revalidated: they carry the target's detached metadata, rewritten when a signature is added.
        headers.CacheControl = kind is RepositoryFileKind.Object or RepositoryFileKind.DeltaPart or RepositoryFileKind.DeltaStats
            ? Immutable : NoCache;
        headers.AcceptRanges = AcceptBytes;

        if (requestHeaders.IfMatch.Count + requestHeaders.IfNoneMatch.Count
            + requestHeaders.IfModifiedSince.Count + requestHeaders.IfUnmodifiedSince.Count > 0)
        {
            switch (HttpConditions.EvaluatePreconditions(requestHeaders, etag, lastModified))
            {
                case PreconditionResult.NotModified:
                    response.StatusCode = StatusCodes.Status304NotModified;
                    return;
                case PreconditionResult.Failed:
                    response.StatusCode = StatusCodes.Status412PreconditionFailed;
                    response.ContentLength = 0;
                    return;
            }
        }

        var isGet = HttpMethods.IsGet(request.Method);
        if (isGet && requestHeaders.Range.Count > 0)
        {
            switch (HttpConditions.EvaluateRange(requestHeaders, etag, lastModified, length, _maxRanges, out var ranges))
            {
                case RangeResult.NotSatisfiable:
                    response.StatusCode = StatusCodes.Status416RangeNotSatisfiable;
                    headers.ContentRange = "bytes */" + length.ToString(CultureInfo.InvariantCulture);
                    response.ContentLength = 0;
                    return;
                case RangeResult.Partial when ranges.Length == 1:
                    var range = ranges[0];
                    response.StatusCode = StatusCodes.Status206PartialContent;
                    response.ContentType = OctetStream;
                    response.ContentLength = range.Length;
                    headers.ContentRange = ContentRange(range, length);
                    await WriteBodyAsync(response.BodyWriter, handle, content, range.Start, range.Length, context.RequestAborted);
                    return;
                case RangeResult.Partial:
                    await WriteMultipartAsync(response, handle, content, ranges, length, context.RequestAborted);
                    return;
            }
        }

        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = OctetStream;
        response.ContentLength = length;
        if (!isGet)
            return; // HEAD: the same headers, no body

        switch (kind)
        {
            case RepositoryFileKind.DeltaSuperblock when deltas.Enabled:
                TrackSuperblock(context, repo, path);
                break;
            case RepositoryFileKind.DeltaPart when deltas.Enabled && handle is not null:
                await WriteTrackedPartAsync(context, handle, path, length);
                return;
        }
        await WriteBodyAsync(response.BodyWriter, handle, content, 0, length, context.RequestAborted);
    }

    private void TrackSuperblock(HttpContext context, Repository repo, string path)
    {
        if (!DeltaName.TryParseRelativePath(path, out var delta))
            return;
        var target = delta.To.ToString();
        var parts = 0;
        long partBytes = 0;
        while (parts < MaxPartsCounted && repo.OpenDeltaFile(delta, parts.ToString(CultureInfo.InvariantCulture)) is { } part)
        {
            using (part)
                partBytes += part.Length;
            parts++;
        }
        deltas.SuperblockServed(DeltaDownloadTracker.ClientKey(context), target, parts, partBytes);
    }

    private async Task WriteTrackedPartAsync(HttpContext context, IStoredFile handle, string path, long length)
    {
        var lastSlash = path.LastIndexOf('/');
        DeltaDownloadTracker.Download? download = null;
        var index = 0;
        if (DeltaName.TryParseRelativePath(path, out var delta)
            && RepositoryPathGuard.TryParsePartNumber(path.AsSpan(lastSlash + 1), out index))
        {
            download = deltas.PartStarting(DeltaDownloadTracker.ClientKey(context), delta.To.ToString());
        }

        var complete = false;
        try
        {
            await WriteBodyAsync(context.Response.BodyWriter, handle, null, 0, length, context.RequestAborted);
            await context.Response.BodyWriter.FlushAsync(context.RequestAborted);
            complete = !context.RequestAborted.IsCancellationRequested;
        }
        finally
        {
            if (download is not null)
                deltas.PartFinished(download, index, complete);
        }
    }

    private static async Task WriteMultipartAsync(HttpResponse response, IStoredFile? handle, byte[]? content,
        ByteRange[] ranges, long length, CancellationToken cancellationToken)
    {
        var boundary = "otaserver-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(12));
        var partHeaders = new byte[ranges.Length][];
        long total = 0;
        for (var i = 0; i < ranges.Length; i++)
        {
            partHeaders[i] = Encoding.ASCII.GetBytes(
                (i == 0 ? "--" : "\r\n--") + boundary + "\r\nContent-Type: application/octet-stream\r\nContent-Range: "
                + ContentRange(ranges[i], length) + "\r\n\r\n");
            total += partHeaders[i].Length + ranges[i].Length;
        }
        var trailer = Encoding.ASCII.GetBytes("\r\n--" + boundary + "--\r\n");
        total += trailer.Length;

        response.StatusCode = StatusCodes.Status206PartialContent;
        response.ContentType = "multipart/byteranges; boundary=" + boundary;
        response.ContentLength = total;
        var writer = response.BodyWriter;
        for (var i = 0; i < ranges.Length; i++)
        {
            writer.Write(partHeaders[i]);
            await WriteBodyAsync(writer, handle, content, ranges[i].Start, ranges[i].Length, cancellationToken);
        }
        writer.Write(trailer);
        // Kestrel does not flush bytes advanced after an earlier flush when the response ends: flush explicitly.
        await writer.FlushAsync(cancellationToken);
    }

    /// <summary>
    /// Copies <paramref name="count"/> bytes at <paramref name="offset"/> into the response pipe: from the
    /// in-memory copy of a small file, else with one pread per chunk straight into Kestrel's buffers.
    /// Kestrel has no zero-copy sendfile on Linux (its SendFileAsync is a stream copy), so this is one copy fewer.
    /// Small bodies are not flushed here: Kestrel sends headers and body in one write when the request ends.
    /// A large body is flushed after every chunk (the last one included), so nothing is left unflushed.
    /// </summary>
    private static async Task WriteBodyAsync(PipeWriter writer, IStoredFile? handle, byte[]? content, long offset, long count,
        CancellationToken cancellationToken)
    {
        if (content is not null)
        {
            writer.Write(content.AsSpan((int)offset, (int)count));
            return;
        }
        ArgumentNullException.ThrowIfNull(handle);
        var flushEachChunk = count > CopyChunk;
        while (count > 0)
        {
            var want = (int)Math.Min(count, CopyChunk);
            var memory = writer.GetMemory(want);
            if (memory.Length > want)
                memory = memory[..want];
            var read = handle.ReadAt(memory.Span, offset);
            if (read <= 0)
                throw new IOException("The file shrank while it was being sent.");
            writer.Advance(read);
            offset += read;
            count -= read;
            if (flushEachChunk)
            {
                var flushed = await writer.FlushAsync(cancellationToken);
                if (flushed.IsCanceled || flushed.IsCompleted)
                    return;
            }
        }
    }

    private static bool TryReadExactly(IStoredFile handle, Span<byte> buffer)
    {
        long offset = 0;
        while (offset < buffer.Length)
        {
            var read = handle.ReadAt(buffer[(int)offset..], offset);
            if (read <= 0)
                return false;
            offset += read;
        }
        return true;
    }

    private static string ContentRange(ByteRange range, long length) =>
        string.Create(CultureInfo.InvariantCulture, $"bytes {range.Start}-{range.End}/{length}");

    /// <summary>Opens for reading; null when the file is absent, a directory, or not readable (all "not found" to clients).</summary>
    private IStoredFile? TryOpen(Repository repo, string path)
    {
        try
        {
            return repo.Storage.Open(path); // the guard accepted the path: it is a key of the archive layout
        }
        catch (Exception e) when (e is UnauthorizedAccessException or PathTooLongException or IOException)
        {
            LogOpenFailed(logger, repo.Name + "/" + path, e.Message);
            return null;
        }
    }

    private Task NotFoundAsync(HttpContext context, string repository, string path) =>
        ProblemAsync(context, StatusCodes.Status404NotFound, "Not found",
            $"Repository '{repository}' has no file '{path}' (directories and internal files are never served).");

    private async Task ProblemAsync(HttpContext context, int status, string title, string detail)
    {
        context.Response.StatusCode = status;
        if (HttpMethods.IsHead(context.Request.Method))
            return;
        await problems.WriteAsync(new ProblemDetailsContext
        {
            HttpContext = context,
            ProblemDetails = { Status = status, Title = title, Detail = detail },
        });
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Could not open {Path}: {Reason}; answering 404")]
    private static partial void LogOpenFailed(ILogger logger, string path, string reason);
}
