using System.Buffers;
using System.Formats.Tar;
using System.Threading.Channels;
using OtaServer.OSTree;
using OtaServer.Repositories;
using OtaServer.Repositories.Storage;

namespace OtaServer.Ingest;

/// <summary>Counts reported to the client after an upload.</summary>
public sealed record ImportResult(int Received, int Created, int AlreadyPresent, int Ignored);

/// <summary>
/// Imports a tar stream of archive-repository files. Each object is verified (checksum, normal form, sane header)
/// on a pool of workers while the tar is still arriving, and only then published into <c>objects/</c>, create-only
/// and atomically (<see cref="Repository.PutObject"/>): nothing unverified or partial is ever visible. An upload that
/// fails part-way (a bad object, a truncated or corrupt stream, a client that goes away) keeps the objects verified
/// before the failure, like an interrupted <c>ostree pull</c>: they are valid, and the retry's missing-objects query
/// skips them. Refs only move through <see cref="RefUpdater"/>, which requires the whole commit.
/// </summary>
internal sealed partial class ObjectImporter(ILogger<ObjectImporter> logger, Signing.CommitMetaStore commitMetas)
{
    /// <summary>Objects up to this size are verified from memory; larger ones from a file in <c>tmp/</c>.</summary>
    private const int InMemoryLimit = 1 << 20;

    /// <summary>Objects read and waiting for a verifier.</summary>
    private const int QueueCapacity = 64;

    /// <summary>The client's limit for metadata objects (OSTREE_MAX_METADATA_SIZE).</summary>
    private const long MaxMetadataSize = 10 * 1024 * 1024;

    public const string KeptNote = "Objects verified before the failure were kept (they are complete and valid; a retry's missing-objects query skips them).";

    public async Task<ImportResult> ImportAsync(Repository repository, Stream body, string? contentEncoding, CancellationToken cancellationToken)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        string? largeObjects = null; // tmp/ingest-*/: created only for objects over InMemoryLimit
        try
        {
            var seen = new HashSet<ObjectName>();
            int received = 0, ignored = 0;
            var counts = new Counts();
            var failures = new List<(ObjectName Name, string Reason)>();
            var storageFailure = new StorageFailure();
            var heldCommits = new List<(ObjectName Name, byte[] Bytes)>();
            var verifyQueue = Channel.CreateBounded<ReadObject>(new BoundedChannelOptions(QueueCapacity) { SingleWriter = true });
            using var verifyCts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            // Verification and publication are CPU- and syscall-bound and synchronous: dedicated threads, so the
            // thread pool stays free for the request body (on 2 cores a starved pool made uploads crawl).
            var workers = Enumerable.Range(0, Math.Max(4, 2 * Environment.ProcessorCount))
                .Select(_ => Task.Factory.StartNew(() => VerifyWorker(verifyQueue.Reader, repository, counts, failures, storageFailure, heldCommits, verifyCts.Token),
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
                        // Objects the repository already has are found at publication (the create-only link
                        // refuses them): clients ask /objects/missing first, so a stat per object here would
                        // cost more than it saves.
                        if (!seen.Add(name))
                            continue;
                        if (name.Type != ObjectType.File && entry.Length > MaxMetadataSize)
                        {
                            lock (failures)
                                failures.Add((name, $"metadata object is {entry.Length} bytes, over the 10 MiB limit"));
                            break;
                        }
                        ReadObject item;
                        if (entry.Length <= InMemoryLimit)
                        {
                            // Nearly all objects: into memory here, verified and written by a worker.
                            // In-flight memory ≤ QueueCapacity × InMemoryLimit.
                            var copy = ArrayPool<byte>.Shared.Rent((int)Math.Max(1, entry.Length));
                            item = new ReadObject(name, null, copy, (int)entry.Length);
                            try
                            {
                                if (entry.DataStream is not null)
                                    await CopyExactAsync(entry.DataStream, null, entry.Length, copy, name, cancellationToken);
                            }
                            catch
                            {
                                ArrayPool<byte>.Shared.Return(copy);
                                throw;
                            }
                        }
                        else
                        {
                            FileStream output;
                            string path;
                            try
                            {
                                largeObjects ??= repository.CreateScratchFolder("ingest-");
                                path = Path.Combine(largeObjects, name.ToString());
                                // Synchronous writes: they land in the page cache, and async file I/O on Linux
                                // costs a thread-pool hop per call.
                                output = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1);
                            }
                            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                            {
                                throw StorageError(name, e);
                            }
                            using (output)
                            {
                                // Verified while it streams to the file, so a bad object (a decompression bomb
                                // posing as a huge .filez) is refused at its first bad bytes, not after the whole
                                // entry reached the disk.
                                var reason = await VerifyWhileCopyingAsync(entry.DataStream ?? Stream.Null, output, entry.Length, name, cancellationToken);
                                if (reason is not null)
                                {
                                    lock (failures)
                                        failures.Add((name, reason));
                                    break;
                                }
                            }
                            item = new ReadObject(name, path, null, 0);
                        }
                        await verifyQueue.Writer.WriteAsync(item, cancellationToken);
                        lock (failures)
                        {
                            if (failures.Count > 0)
                                break;
                        }
                    }
                }
            }
            finally
            {
                verifyQueue.Writer.TryComplete();
                await Task.WhenAll(workers);
            }

            // Detached metadata is mutable (signatures are added later): merged into what is stored, not create-only.
            var heldMeta = heldCommits.Where(h => h.Name.Type == ObjectType.CommitMeta).ToList();
            heldCommits.RemoveAll(h => h.Name.Type == ObjectType.CommitMeta);
            if (failures.Count == 0 && storageFailure.Error is null)
                PublishHeldCommits(repository, heldCommits, counts, storageFailure);
            if (failures.Count == 0 && storageFailure.Error is null && heldMeta.Count > 0)
            {
                try
                {
                    var stored = await commitMetas.StoreAsync(repository, heldMeta, cancellationToken);
                    counts.Created += stored.Created + stored.Replaced;
                    counts.Present += stored.Unchanged;
                }
                catch (InvalidObjectException e)
                {
                    failures.Add((e.ObjectName, e.Reason));
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    (storageFailure.Error, storageFailure.Name) = (e, heldMeta[0].Name);
                }
            }
            if (storageFailure.Error is { } error)
            {
                LogStorageFailed(logger, storageFailure.Name.ToString(), error.Message);
                throw StorageError(storageFailure.Name, error);
            }
            if (failures.Count > 0)
            {
                var names = failures.Select(f => f.Name.ToString()).ToList();
                LogRejected(logger, failures[0].Name.ToString(), failures[0].Reason, counts.Created);
                throw new IngestException(StatusCodes.Status422UnprocessableEntity, "Invalid object",
                    $"Object {failures[0].Name} was rejected and not stored: {failures[0].Reason}. {KeptNote}", names);
            }
            LogImported(logger, counts.Created, counts.Present, ignored, clock.ElapsedMilliseconds);
            return new ImportResult(received, counts.Created, counts.Present, ignored);
        }
        finally
        {
            if (largeObjects is not null)
                TryDeleteDirectory(largeObjects);
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
                $"The upload is not a complete tar stream ({e.Message}). {KeptNote}");
        }
    }

    /// <summary>The server's disk failed (not the upload): 507 when it is full, else 500.</summary>
    private static IngestException StorageError(ObjectName name, Exception error)
    {
        // .NET's IOExceptions carry the errno in HResult, and so do LooseObjectWriter's and AtomicRename's.
        var full = Diagnostics.StorageFullExceptionHandler.IsStorageFull(error);
        return new IngestException(full ? StatusCodes.Status507InsufficientStorage : StatusCodes.Status500InternalServerError,
            "Storage failure", $"The server could not store {name}: {error.Message}. {KeptNote}");
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
                        $"The upload's compressed stream is corrupt inside {name} ({e.Message}). {KeptNote}");
                }
                if (n == 0)
                {
                    throw new IngestException(StatusCodes.Status400BadRequest, "Truncated upload",
                        $"The tar stream ended inside {name}. {KeptNote}");
                }

                try
                {
                    destination?.Write(buffer, offset, n);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    throw StorageError(name, e);
                }
                done += n;
            }
        }
        finally
        {
            if (copy is null)
                ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// Stores the verified commits of an upload after every other object of it, so that a kill part-way never
    /// leaves a stored commit whose tree the same upload was still bringing.
    /// </summary>
    private static void PublishHeldCommits(Repository repository, List<(ObjectName Name, byte[] Bytes)> held,
        Counts counts, StorageFailure storageFailure)
    {
        if (held.Count == 0)
            return;
        foreach (var (name, bytes) in held)
        {
            try
            {
                // Uploaded before its objects (another upload may bring them): stored as partial, the way
                // `ostree pull` keeps an interrupted commit, so fsck does not count it as corruption. The ref
                // move, which requires the whole commit, clears the mark.
                if (repository.Reader.MissingFromTree(Commit.Parse(bytes)).Count > 0)
                    repository.MarkPartial(name.Checksum);
                var created = repository.PutObject(name, bytes) == PutOutcome.Created;
                if (created)
                    counts.Created++;
                else
                    counts.Present++;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                (storageFailure.Error, storageFailure.Name) = (e, name);
                return;
            }
        }
    }

    /// <summary>
    /// Copies exactly <paramref name="length"/> bytes of a tar entry to <paramref name="destination"/> while the
    /// verifier reads them. Returns why the object is invalid, or null when it is valid and complete.
    /// </summary>
    private static async Task<string?> VerifyWhileCopyingAsync(Stream source, Stream destination, long length, ObjectName name, CancellationToken cancellationToken)
    {
        var tee = new TeeReadStream(source, destination, length);
        try
        {
            await ObjectVerifier.VerifyAsync(name, tee, cancellationToken);
        }
        catch (InvalidObjectException e) when (!tee.EndedEarly)
        {
            return e.Reason;
        }
        catch (InvalidObjectException)
        {
            // The verifier saw the object end early because the stream did: that is a truncated upload.
        }
        catch (Exception e) when (e is InvalidDataException or ZstdSharp.ZstdException)
        {
            throw new IngestException(StatusCodes.Status400BadRequest, "Invalid upload",
                $"The upload's compressed stream is corrupt inside {name} ({e.Message}). {KeptNote}");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw StorageError(name, e);
        }
        if (tee.EndedEarly)
        {
            throw new IngestException(StatusCodes.Status400BadRequest, "Truncated upload",
                $"The tar stream ended inside {name}. {KeptNote}");
        }

        return null;
    }

    /// <summary>Reads at most <c>length</c> bytes of a source and writes each to a destination as it is read.</summary>
    private sealed class TeeReadStream(Stream source, Stream destination, long length) : Stream
    {
        private readonly long _length = length;
        private long _remaining = length;

        /// <summary>The source ended before <c>length</c> bytes.</summary>
        public bool EndedEarly { get; private set; }

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => _length - _remaining; set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            if (_remaining == 0 || buffer.Length == 0)
                return 0;
            var n = source.Read(buffer[..(int)Math.Min(buffer.Length, _remaining)]);
            return Copied(buffer[..n]);
        }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (_remaining == 0 || buffer.Length == 0)
                return 0;
            var n = await source.ReadAsync(buffer[..(int)Math.Min(buffer.Length, _remaining)], cancellationToken);
            return Copied(buffer.Span[..n]);
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        private int Copied(ReadOnlySpan<byte> bytes)
        {
            if (bytes.Length == 0)
            {
                EndedEarly = true;
                return 0;
            }
            // Synchronous writes: they land in the page cache, and async file I/O on Linux costs a thread-pool hop.
            destination.Write(bytes);
            _remaining -= bytes.Length;
            return bytes.Length;
        }

        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    private static void VerifyWorker(ChannelReader<ReadObject> queue, Repository repository, Counts counts,
        List<(ObjectName, string)> failures, StorageFailure storageFailure, List<(ObjectName Name, byte[] Bytes)> held,
        CancellationToken cancellationToken)
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
                    bool created;
                    if (item.Copy is not null)
                    {
                        ObjectVerifier.Verify(item.Name, new MemoryStream(item.Copy, 0, item.Length, writable: false));
                        if (item.Name.Type is ObjectType.Commit or ObjectType.CommitMeta)
                        {
                            // Published last, once everything it references is stored (PublishHeldCommits): the
                            // workers run in parallel, and a commit stored before its tree is a servable commit
                            // that a kill would leave incomplete.
                            lock (held)
                                held.Add((item.Name, item.Copy.AsSpan(0, item.Length).ToArray()));
                            continue;
                        }
                        created = repository.PutObject(item.Name, item.Copy.AsSpan(0, item.Length)) == PutOutcome.Created;
                    }
                    else
                    {
                        // Verified as it was read (VerifyWhileCopyingAsync).
                        if (item.Name.Type == ObjectType.CommitMeta)
                        {
                            lock (held)
                                held.Add((item.Name, File.ReadAllBytes(item.Path!)));
                            continue;
                        }
                        created = repository.PutObjectFile(item.Name, item.Path!) == PutOutcome.Created;
                    }
                    Interlocked.Increment(ref created ? ref counts.Created : ref counts.Present);
                }
                catch (InvalidObjectException e)
                {
                    lock (failures)
                        failures.Add((item.Name, e.Reason));
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    // The server's disk, not the upload: stop, and answer 507/500 rather than blame the client.
                    lock (failures)
                    {
                        if (storageFailure.Error is null)
                            (storageFailure.Error, storageFailure.Name) = (e, item.Name);
                        failures.Add((item.Name, "not stored: " + e.Message));
                    }
                }
                finally
                {
                    if (item.Copy is not null)
                        ArrayPool<byte>.Shared.Return(item.Copy);
                }
            }
        }
    }

    /// <summary>An object read from the upload: its bytes when small, else the temporary file holding them.</summary>
    private readonly record struct ReadObject(ObjectName Name, string? Path, byte[]? Copy, int Length);

    /// <summary>The first error writing an object (guarded by the failures list's lock).</summary>
    private sealed class StorageFailure
    {
        public Exception? Error;
        public ObjectName Name;
    }

    private sealed class Counts
    {
        public int Created;
        public int Present;
    }

    private static void TryDeleteDirectory(string path)
    {
        try { Directory.Delete(path, recursive: true); }
        catch (DirectoryNotFoundException) { }
        catch (IOException) { }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Imported {Created} new objects ({Present} already present, {Ignored} ignored) in {Milliseconds} ms")]
    private static partial void LogImported(ILogger logger, int created, int present, int ignored, long milliseconds);

    [LoggerMessage(Level = LogLevel.Error, Message = "Upload stopped: could not store {Object}: {Reason}")]
    private static partial void LogStorageFailed(ILogger logger, string @object, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Rejected upload: object {Object} is invalid: {Reason} ({Created} objects verified before it were kept)")]
    private static partial void LogRejected(ILogger logger, string @object, string reason, int created);
}
