using System.CommandLine;
using System.Formats.Tar;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Threading.Channels;
using OtaServer.OSTree;
using ZstdSharp;

namespace OtaCtl;

/// <summary>
/// <c>otactl push LOCAL_REPO REF</c>: reads a local archive repository, asks the server which objects
/// it lacks, streams only those as a zstd tar, then moves the ref with compare-and-swap.
/// </summary>
internal static class PushCommand
{
    /// <summary>Names per missing-objects query: small enough that the upload starts after the first answer.</summary>
    private const int QueryBatch = 1_000;

    /// <summary>zstd level of the upload (negative = zstd's fast levels).</summary>
    private const int CompressionLevel = -5;

    public static Command Create(CliContext ctx)
    {
        var repoOption = new Option<string>("--repo") { Description = "Repository on the server", DefaultValueFactory = _ => "main" };
        var localRepo = new Argument<string>("LOCAL_REPO") { Description = "Path to a local archive-mode ostree repository" };
        var refArg = new Argument<string>("REF") { Description = "Ref to push (its commit and everything reachable from it)" };
        var force = new Option<bool>("--force") { Description = "Move the ref even when the new commit does not descend from the server's" };
        var version = new Option<long?>("--version") { Description = "Also create target VERSION for the pushed commit" };
        // One value per token (repeatable or comma-separated): several values per token swallowed LOCAL_REPO and REF.
        var tags = new Option<string[]>("--tag", "-T") { Description = "Tags of the new target (with --version), repeatable or comma-separated" };
        var hwIds = new Option<string[]>("--hw-id") { Description = "Hardware ids of the new target (with --version), repeatable or comma-separated" };
        var forceTags = new Option<bool>("--force-tags") { Description = "Create the target with its tags even while a wave is open on one of them" };
        var cmd = new Command("push", "Push a commit from a local archive repository to the server and move the ref")
        {
            repoOption, localRepo, refArg, force, version, tags, hwIds, forceTags,
        };
        cmd.SetAction((parse, ct) => ctx.RunAsync(parse, async (api, token) =>
        {
            var repo = parse.GetValue(repoOption)!;
            var refName = parse.GetValue(refArg)!;
            var newTarget = parse.GetValue(version) is { } v
                ? new CreateTargetRequest(v, refName, null, repo, Split(parse.GetValue(tags)), Split(parse.GetValue(hwIds)), parse.GetValue(forceTags))
                : null;
            // Push-with-version is one decision: the server checks the version first (a dry run), so a refused
            // version neither uploads nor moves the ref.
            if (newTarget is not null)
                await api.PostAsync<TargetInfo>("api/v1/targets", newTarget with { DryRun = true }, token);
            var result = await PushAsync(api, repo, parse.GetValue(localRepo)!, refName,
                parse.GetValue(force), Progress.For(ctx.Out), token);
            await ctx.Out.WriteLineAsync($"{result.Ref} -> {result.Commit} ({result.Uploaded} of {result.Total} objects uploaded, {result.Bytes} bytes)");
            if (newTarget is not null)
            {
                var target = await api.PostAsync<TargetInfo>("api/v1/targets", newTarget with { Commit = result.Commit }, token);
                await ctx.Out.WriteLineAsync($"Target {target.Version} created for {target.Commit} (tags: {string.Join(',', target.Tags)})");
            }
            return ExitCodes.Ok;
        }, ct));
        return cmd;
    }

    private static List<string> Split(string[]? values) =>
        (values ?? []).SelectMany(v => v.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).ToList();

    public sealed record PushResult(string Ref, string Commit, int Total, int Uploaded, long Bytes);

    public static async Task<PushResult> PushAsync(ApiClient api, string repo, string localPath, string refName, bool force,
        Progress progress, CancellationToken cancellationToken)
    {
        if (!Directory.Exists(localPath))
            throw Fail($"{localPath}: no such directory.");
        var local = new ArchiveRepository(localPath);
        if (!local.IsArchive)
        {
            throw Fail($"{localPath} is not an archive-mode ostree repository (config core.mode must be archive-z2); " +
                "create it with 'ostree init --mode=archive' or copy the commit there with 'ostree pull-local'.");
        }

        var commit = local.ResolveRef(refName)
            ?? (Checksum.TryParse(refName, out var c) ? c : throw Fail($"Unknown ref '{refName}' in {localPath}."));
        var repoPath = $"api/v1/repos/{Uri.EscapeDataString(repo)}";
        var clock = System.Diagnostics.Stopwatch.StartNew();
        // The ref's current value (for the compare-and-swap) is asked while the commit is walked: it also opens
        // the connection, so the first missing-objects query does not pay for that.
        var refsTask = api.GetAsync<List<RefEntry>>($"{repoPath}/refs", cancellationToken);

        // Three stages overlap: the walk finds objects, batches of them are asked about, and the missing ones
        // stream into the upload. Metadata is held back until the walk has proved the commit complete, then
        // sent last, commit at the very end: the server publishes objects as it verifies them, and a tree
        // never appears before the files it names.
        var walked = Channel.CreateUnbounded<ObjectName>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        var walkTask = Task.Run(() => Walk(local, commit, walked.Writer, progress, clock), cancellationToken);
        var toSend = Channel.CreateUnbounded<ObjectName>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        var counts = new UploadCounts();
        using var asking = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var askTask = AskMissingAsync(api, repoPath, localPath, commit, walked.Reader, walkTask, toSend.Writer, counts, asking.Token);
        try
        {
            if (await toSend.Reader.WaitToReadAsync(cancellationToken))
            {
                using var upload = new HttpRequestMessage(HttpMethod.Post, $"{repoPath}/objects")
                {
                    Content = new TarUploadContent(localPath, toSend.Reader, counts, progress),
                };
                using var _ = await api.SendAsync(upload, HttpCompletionOption.ResponseContentRead, cancellationToken);
                progress.Done();
            }
            await askTask;
        }
        catch (Exception) when (askTask.IsFaulted)
        {
            await askTask; // the walk's or the query's own error explains more than the upload it cut short
            throw;
        }
        catch
        {
            asking.Cancel();
            throw;
        }
        var total = (await walkTask).Present.Count;
        progress.Line($"Uploaded {counts.Sent} missing objects ({counts.Bytes} bytes), verified and stored in {clock.Elapsed.TotalSeconds:0.00} s");

        clock.Restart();
        var expected = (await refsTask).FirstOrDefault(r => r.Name == refName)?.Commit;
        using var move = new HttpRequestMessage(HttpMethod.Put, $"{repoPath}/refs/{refName}")
        {
            Content = ApiClient.JsonBody(new RefMoveRequest(commit.ToString(), expected, force)),
        };
        using var __ = await api.SendAsync(move, HttpCompletionOption.ResponseContentRead, cancellationToken);
        progress.Line($"Ref moved in {clock.Elapsed.TotalSeconds:0.00} s");
        return new PushResult(refName, commit.ToString(), total, counts.Sent, counts.Bytes);
    }

    private static CommitWalk Walk(ArchiveRepository local, Checksum commit, ChannelWriter<ObjectName> walked, Progress progress,
        System.Diagnostics.Stopwatch clock)
    {
        try
        {
            var walk = local.WalkCommit(commit, name => walked.TryWrite(name));
            walked.TryComplete();
            progress.Line($"Commit {commit}: {walk.Present.Count + walk.Missing.Count} objects (walked in {clock.Elapsed.TotalSeconds:0.00} s)");
            return walk;
        }
        catch (Exception e)
        {
            walked.TryComplete(e);
            throw;
        }
    }

    private static async Task AskMissingAsync(ApiClient api, string repoPath, string localPath, Checksum commit,
        ChannelReader<ObjectName> walked, Task<CommitWalk> walkTask, ChannelWriter<ObjectName> toSend, UploadCounts counts,
        CancellationToken cancellationToken)
    {
        try
        {
            var batch = new List<ObjectName>(QueryBatch);
            var metadata = new List<ObjectName>();
            await foreach (var name in walked.ReadAllAsync(cancellationToken))
            {
                if (name.Type != ObjectType.File)
                {
                    metadata.Add(name);
                    continue;
                }
                batch.Add(name);
                if (batch.Count == QueryBatch)
                {
                    await AskAsync(batch);
                    batch.Clear();
                }
            }
            var walk = await walkTask;
            if (walk.Missing.Count > 0)
                throw Fail($"Commit {commit} is incomplete in {localPath}: {walk.Missing.Count} objects are missing (first: {walk.Missing[0]}).");
            // Detached metadata is sent even when the server has it: it may carry signatures added since (ostree
            // gpg-sign), which the server merges into its copy.
            var detached = metadata.Where(o => o.Type == ObjectType.CommitMeta).ToList();
            batch.AddRange(metadata.Where(o => o.Type != ObjectType.CommitMeta).OrderBy(o => o.Type is ObjectType.Commit ? 1 : 0));
            for (var i = 0; i < batch.Count; i += QueryBatch)
                await AskAsync(batch.GetRange(i, Math.Min(QueryBatch, batch.Count - i)));
            foreach (var meta in detached)
            {
                counts.Found();
                toSend.TryWrite(meta);
            }
            toSend.TryComplete();
        }
        catch (Exception e)
        {
            toSend.TryComplete(e);
            throw;
        }

        async Task AskAsync(List<ObjectName> names)
        {
            var body = await api.PostAsync<MissingObjectsAnswer>($"{repoPath}/objects/missing",
                new MissingObjectsQuery(names.Select(o => o.ToString()).ToList()), cancellationToken);
            // The server answers in the order asked: keep it, so the metadata stays last.
            foreach (var missing in body.Missing)
            {
                counts.Found();
                toSend.TryWrite(ObjectName.Parse(missing));
            }
        }
    }

    private static ApiException Fail(string message) => new(null, message, ExitCodes.Failed);

    /// <summary>Objects found missing so far (the total grows while batches are asked) and what has been sent.</summary>
    private sealed class UploadCounts
    {
        private int _found;
        private int _sent;
        private long _bytes;

        public int Known => Volatile.Read(ref _found);

        public int Sent => Volatile.Read(ref _sent);

        public long Bytes => Interlocked.Read(ref _bytes);

        public void Found() => Interlocked.Increment(ref _found);

        public void Add(long bytes)
        {
            Interlocked.Add(ref _bytes, bytes);
            Interlocked.Increment(ref _sent);
        }
    }

    /// <summary>Streams the objects, as they are found missing, as a zstd-compressed tar straight into the request body.</summary>
    private sealed class TarUploadContent : HttpContent
    {
        private readonly string _root;
        private readonly ChannelReader<ObjectName> _objects;
        private readonly UploadCounts _counts;
        private readonly Progress _progress;

        public TarUploadContent(string root, ChannelReader<ObjectName> objects, UploadCounts counts, Progress progress)
        {
            _root = root;
            _objects = objects;
            _counts = counts;
            _progress = progress;
            Headers.ContentType = new MediaTypeHeaderValue("application/x-tar");
            Headers.ContentEncoding.Add("zstd");
        }

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
        {
            // Nearly all of the bytes are .filez, deflated already: a fast negative level finds the little there is
            // to gain (tar headers, metadata) at a fraction of level 1's CPU, which the server needs on small machines.
            await using var zstd = new CompressionStream(stream, level: CompressionLevel, leaveOpen: true);
            // Ustar headers: object paths fit its 100-byte names, and PAX would add an extended header per object.
            await using (var tar = new TarWriter(zstd, TarEntryFormat.Ustar, leaveOpen: true))
            {
                await foreach (var o in _objects.ReadAllAsync(cancellationToken))
                {
                    var path = Path.Combine(_root, o.RelativePath);
                    // Unbuffered: the tar writer copies in large blocks, and a 64 KiB buffer per object was
                    // most of what this process allocated.
                    await using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 0);
                    var entry = new UstarTarEntry(TarEntryType.RegularFile, o.RelativePath) { DataStream = file };
                    await tar.WriteEntryAsync(entry, cancellationToken);
                    _counts.Add(file.Length);
                    _progress.Report(_counts.Sent, _counts.Known, _counts.Bytes);
                }
            }
            await zstd.FlushAsync(cancellationToken);
        }

        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
            SerializeToStreamAsync(stream, context, CancellationToken.None);

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }
}
