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
    /// <summary>The client's limit for metadata objects (OSTREE_MAX_METADATA_SIZE).</summary>
    private const long MaxMetadataSize = 10 * 1024 * 1024;

    public async Task<ImportResult> ImportAsync(string repoRoot, Stream body, string? contentEncoding, CancellationToken cancellationToken)
    {
        var staging = Path.Combine(repoRoot, RepositoryRegistry.StagingFolder, "ingest-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(staging);
        try
        {
            var staged = new Dictionary<ObjectName, string>();
            int received = 0, present = 0, ignored = 0;
            var failures = new List<(ObjectName Name, string Reason)>();
            var verifyQueue = Channel.CreateBounded<(ObjectName Name, string Path)>(new BoundedChannelOptions(256) { SingleWriter = true });
            using var verifyCts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var workers = Enumerable.Range(0, Math.Max(1, Environment.ProcessorCount))
                .Select(_ => Task.Run(() => VerifyWorkerAsync(verifyQueue.Reader, failures, verifyCts.Token), CancellationToken.None))
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
                        if (staged.ContainsKey(name))
                            continue;
                        if (File.Exists(Path.Combine(repoRoot, name.RelativePath)))
                        {
                            present++;
                            continue;
                        }
                        if (name.Type != ObjectType.File && entry.Length > MaxMetadataSize)
                        {
                            lock (failures)
                                failures.Add((name, $"metadata object is {entry.Length} bytes, over the 10 MiB limit"));
                            break;
                        }
                        var path = Path.Combine(staging, name.ToString());
                        await using (var output = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, FileOptions.Asynchronous))
                        {
                            if (entry.DataStream is not null)
                                await CopyExactAsync(entry.DataStream, output, entry.Length, name, cancellationToken);
                        }
                        staged[name] = path;
                        await verifyQueue.Writer.WriteAsync((name, path), cancellationToken);
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

            if (failures.Count > 0)
            {
                var names = failures.Select(f => f.Name.ToString()).ToList();
                LogRejected(logger, failures[0].Name.ToString(), failures[0].Reason);
                throw new IngestException(StatusCodes.Status422UnprocessableEntity, "Invalid object",
                    $"Object {failures[0].Name} was rejected: {failures[0].Reason}. Nothing from this upload was stored.", names);
            }

            // Everything verified: make the objects visible, create-only.
            int created = 0;
            foreach (var (name, path) in staged)
            {
                var final = Path.Combine(repoRoot, name.RelativePath);
                Directory.CreateDirectory(Path.GetDirectoryName(final)!);
                if (AtomicRename.TryMoveNoReplace(path, final))
                    created++;
                else
                    present++; // a concurrent upload published the same object first
            }
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

    private static async Task CopyExactAsync(Stream source, Stream destination, long length, ObjectName name, CancellationToken cancellationToken)
    {
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(1 << 16);
        try
        {
            long remaining = length;
            while (remaining > 0)
            {
                int n;
                try
                {
                    n = await source.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, remaining)), cancellationToken);
                }
                catch (Exception e) when (e is InvalidDataException or ZstdSharp.ZstdException)
                {
                    throw new IngestException(StatusCodes.Status400BadRequest, "Invalid upload",
                        $"The upload's compressed stream is corrupt inside {name} ({e.Message}). Nothing from this upload was stored.");
                }
                if (n == 0)
                    throw new IngestException(StatusCodes.Status400BadRequest, "Truncated upload",
                        $"The tar stream ended inside {name}. Nothing from this upload was stored.");
                await destination.WriteAsync(buffer.AsMemory(0, n), cancellationToken);
                remaining -= n;
            }
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static async Task VerifyWorkerAsync(ChannelReader<(ObjectName Name, string Path)> queue, List<(ObjectName, string)> failures, CancellationToken cancellationToken)
    {
        await foreach (var (name, path) in queue.ReadAllAsync(cancellationToken))
        {
            lock (failures)
                if (failures.Count > 0)
                    continue;
            try
            {
                await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
                ObjectVerifier.Verify(name, stream);
            }
            catch (InvalidObjectException e)
            {
                lock (failures)
                    failures.Add((name, e.Reason));
            }
        }
    }

    private static void TryDeleteDirectory(string path)
    {
        try { Directory.Delete(path, recursive: true); }
        catch (DirectoryNotFoundException) { }
        catch (IOException) { }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Rejected upload: object {Object} is invalid: {Reason}")]
    private static partial void LogRejected(ILogger logger, string @object, string reason);
}
