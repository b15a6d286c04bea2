using System.Buffers;
using System.Formats.Tar;
using System.Threading.Channels;
using OtaServer.OSTree;
using OtaServer.Repositories;

namespace OtaServer.Ingest;

/// <summary>Counts reported to the client after an upload.</summary>
public sealed record ImportResult(int Received, int Created, int AlreadyPresent, int Ignored);

/// <summary>
/// Imports a tar stream of archive-repository files. Each object is streamed to a staging folder
/// inside the repository (never served), verified (checksum, normal form, sane header) on a pool of
/// workers while the tar is still arriving, and only when the whole upload was read and every object
/// verified are the objects moved into <c>objects/</c>, create-only. A bad object, a truncated or
/// corrupt stream, or an aborted upload leaves the repository as it was.
/// </summary>
internal sealed partial class ObjectImporter(ILogger<ObjectImporter> logger)
{
    /// <summary>Objects up to this size are verified from memory.</summary>
    private const int InMemoryLimit = 1 << 20;

    /// <summary>Staged objects waiting for a verifier.</summary>
    private const int QueueCapacity = 64;

    /// <summary>The client's limit for metadata objects (OSTREE_MAX_METADATA_SIZE).</summary>
    private const long MaxMetadataSize = 10 * 1024 * 1024;

    public async Task<ImportResult> ImportAsync(string repoRoot, Stream body, string? contentEncoding, CancellationToken cancellationToken)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var staging = Path.Combine(repoRoot, RepositoryRegistry.StagingFolder, "ingest-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(staging);
        try
        {
            var staged = new Dictionary<ObjectName, string>();
            var stagingDirs = new HashSet<string>(StringComparer.Ordinal);
            int received = 0, present = 0, ignored = 0;
            var failures = new List<(ObjectName Name, string Reason)>();
            var verifyQueue = Channel.CreateBounded<StagedObject>(new BoundedChannelOptions(QueueCapacity) { SingleWriter = true });
            using var verifyCts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            // Verification is CPU-bound and synchronous: dedicated threads, so the thread pool stays free
            // for the request body and the file writes (on 2 cores a starved pool made uploads crawl).
            var workers = Enumerable.Range(0, Math.Max(4, 2 * Environment.ProcessorCount))
                .Select(_ => Task.Factory.StartNew(() => VerifyWorker(verifyQueue.Reader, failures, verifyCts.Token),
                    CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default))
                .ToArray();
            try
            {
                await using (var tar = await UploadDecoding.OpenTarStreamAsync(body, contentEncoding, cancellationToken))
                {
                    var reader = new TarReader(tar, leaveOpen: true);
                    while (await ReadNextAsync(reader, cancellationToken) is { } entry)
                    {
                        if (entry.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile) ||
                            !ObjectName.TryParseRelativePath(entry.Name, out var name))
                        {
                            ignored++;
                            continue;
                        }
                        received++;
                        // Objects the repository already has are found at publication (the create-only
                        // rename refuses them): clients ask /objects/missing first, so a stat per object
                        // here would cost more than it saves.
                        if (staged.ContainsKey(name))
                            continue;
                        if (name.Type != ObjectType.File && entry.Length > MaxMetadataSize)
                        {
                            lock (failures)
                                failures.Add((name, $"metadata object is {entry.Length} bytes, over the 10 MiB limit"));
                            break;
                        }
                        // Staged under the same two-character prefixes as objects/: creating thousands of
                        // files in one folder serialises the writers on that folder's lock.
                        var prefixDir = Path.Combine(staging, name.RelativePath[8..10]);
                        if (stagingDirs.Add(prefixDir))
                            Directory.CreateDirectory(prefixDir);
                        var path = Path.Combine(prefixDir, name.ToString());
                        byte[]? copy = null;
                        if (entry.Length <= InMemoryLimit)
                        {
                            // Small objects (nearly all): read into memory here; a worker writes the staged
                            // file and verifies from memory, so file creation also runs on every core.
                            // In-flight memory ≤ QueueCapacity × InMemoryLimit.
                            copy = ArrayPool<byte>.Shared.Rent((int)Math.Max(1, entry.Length));
                            if (entry.DataStream is not null)
                                await CopyExactAsync(entry.DataStream, null, entry.Length, copy, name, cancellationToken);
                        }
                        else
                        {
                            // Synchronous writes: they land in the page cache, and async file I/O on Linux
                            // costs a thread-pool hop per call.
                            using var output = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1);
                            if (entry.DataStream is not null)
                                await CopyExactAsync(entry.DataStream, output, entry.Length, null, name, cancellationToken);
                        }
                        staged[name] = path;
                        await verifyQueue.Writer.WriteAsync(new StagedObject(name, path, copy, (int)Math.Min(entry.Length, InMemoryLimit)), cancellationToken);
                        lock (failures)
                            if (failures.Count > 0)
                                break;
                    }
                }
            }
            finally
            {
                verifyQueue.Writer.TryComplete();
                await Task.WhenAll(workers);
            }
            var readMs = clock.ElapsedMilliseconds;

            if (failures.Count > 0)
            {
                var names = failures.Select(f => f.Name.ToString()).ToList();
                LogRejected(logger, failures[0].Name.ToString(), failures[0].Reason);
                throw new IngestException(StatusCodes.Status422UnprocessableEntity, "Invalid object",
                    $"Object {failures[0].Name} was rejected: {failures[0].Reason}. Nothing from this upload was stored.", names);
            }

            // Everything verified: make the objects visible, create-only.
            int created = 0;
            var objectDirs = new HashSet<string>(StringComparer.Ordinal);
            foreach (var (name, path) in staged)
            {
                var final = Path.Combine(repoRoot, name.RelativePath);
                var dir = Path.GetDirectoryName(final)!;
                if (objectDirs.Add(dir))
                    Directory.CreateDirectory(dir);
                if (AtomicRename.TryMoveNoReplace(path, final))
                    created++;
                else
                    present++; // a concurrent upload published the same object first
            }
            LogImported(logger, created, present, ignored, readMs, clock.ElapsedMilliseconds - readMs);
            return new ImportResult(received, created, present, ignored);
        }
        finally
        {
            TryDeleteDirectory(staging);
        }
    }

    private static async Task<TarEntry?> ReadNextAsync(TarReader reader, CancellationToken cancellationToken)
    {
        try
        {
            return await reader.GetNextEntryAsync(copyData: false, cancellationToken);
        }
        catch (Exception e) when (e is InvalidDataException or EndOfStreamException or FormatException or ZstdSharp.ZstdException or ArgumentException)
        {
            throw new IngestException(StatusCodes.Status400BadRequest, "Invalid upload",
                $"The upload is not a complete tar stream ({e.Message}). Nothing from this upload was stored.");
        }
    }

    /// <summary>Reads exactly <paramref name="length"/> bytes into <paramref name="copy"/> and/or <paramref name="destination"/>.</summary>
    private static async Task CopyExactAsync(Stream source, Stream? destination, long length, byte[]? copy, ObjectName name, CancellationToken cancellationToken)
    {
        var buffer = copy ?? ArrayPool<byte>.Shared.Rent(1 << 16);
        try
        {
            long done = 0;
            while (done < length)
            {
                var offset = copy is null ? 0 : (int)done;
                var want = (int)Math.Min(copy is null ? buffer.Length : length - done, length - done);
                int n;
                try
                {
                    n = await source.ReadAsync(buffer.AsMemory(offset, want), cancellationToken);
                }
                catch (Exception e) when (e is InvalidDataException or ZstdSharp.ZstdException)
                {
                    throw new IngestException(StatusCodes.Status400BadRequest, "Invalid upload",
                        $"The upload's compressed stream is corrupt inside {name} ({e.Message}). Nothing from this upload was stored.");
                }
                if (n == 0)
                    throw new IngestException(StatusCodes.Status400BadRequest, "Truncated upload",
                        $"The tar stream ended inside {name}. Nothing from this upload was stored.");
                destination?.Write(buffer, offset, n);
                done += n;
            }
        }
        finally
        {
            if (copy is null)
                ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static void VerifyWorker(ChannelReader<StagedObject> queue, List<(ObjectName, string)> failures, CancellationToken cancellationToken)
    {
        while (queue.WaitToReadAsync(cancellationToken).AsTask().GetAwaiter().GetResult())
        {
            while (queue.TryRead(out var item))
            {
                try
                {
                    bool failed;
                    lock (failures)
                        failed = failures.Count > 0;
                    if (failed)
                        continue;
                    if (item.Copy is not null)
                    {
                        using (var output = new FileStream(item.Path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1))
                            output.Write(item.Copy, 0, item.Length);
                        ObjectVerifier.Verify(item.Name, new MemoryStream(item.Copy, 0, item.Length, writable: false));
                    }
                    else
                    {
                        using var stream = new FileStream(item.Path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
                        ObjectVerifier.Verify(item.Name, stream);
                    }
                }
                catch (InvalidObjectException e)
                {
                    lock (failures)
                        failures.Add((item.Name, e.Reason));
                }
                finally
                {
                    if (item.Copy is not null)
                        ArrayPool<byte>.Shared.Return(item.Copy);
                }
            }
        }
    }

    /// <summary>A staged object waiting for verification, with its bytes when it is small.</summary>
    private readonly record struct StagedObject(ObjectName Name, string Path, byte[]? Copy, int Length);

    private static void TryDeleteDirectory(string path)
    {
        try { Directory.Delete(path, recursive: true); }
        catch (DirectoryNotFoundException) { }
        catch (IOException) { }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Imported {Created} new objects ({Present} already present, {Ignored} ignored): read and verified in {ReadMs} ms, published in {PublishMs} ms")]
    private static partial void LogImported(ILogger logger, int created, int present, int ignored, long readMs, long publishMs);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Rejected upload: object {Object} is invalid: {Reason}")]
    private static partial void LogRejected(ILogger logger, string @object, string reason);
}
