using System.CommandLine;
using System.Formats.Tar;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using OtaServer.OSTree;
using ZstdSharp;

namespace OtaCtl;

/// <summary>
/// <c>otactl push LOCAL_REPO REF</c>: reads a local archive repository, asks the server which objects
/// it lacks, streams only those as a zstd tar, then moves the ref with compare-and-swap.
/// </summary>
internal static class PushCommand
{
    private const int QueryBatch = 50_000;

    public static Command Create(CliContext ctx)
    {
        var repoOption = new Option<string>("--repo") { Description = "Repository on the server", DefaultValueFactory = _ => "main" };
        var localRepo = new Argument<string>("LOCAL_REPO") { Description = "Path to a local archive-mode ostree repository" };
        var refArg = new Argument<string>("REF") { Description = "Ref to push (its commit and everything reachable from it)" };
        var force = new Option<bool>("--force") { Description = "Move the ref even when the new commit does not descend from the server's" };
        var version = new Option<long?>("--version") { Description = "Also create target VERSION for the pushed commit" };
        var tags = new Option<string[]>("--tag", "-T") { Description = "Tags of the new target (with --version)", AllowMultipleArgumentsPerToken = true };
        var hwIds = new Option<string[]>("--hw-id") { Description = "Hardware ids of the new target (with --version)", AllowMultipleArgumentsPerToken = true };
        var cmd = new Command("push", "Push a commit from a local archive repository to the server and move the ref")
        {
            repoOption, localRepo, refArg, force, version, tags, hwIds,
        };
        cmd.SetAction((parse, ct) => ctx.RunAsync(parse, async (api, token) =>
        {
            var repo = parse.GetValue(repoOption)!;
            var refName = parse.GetValue(refArg)!;
            var result = await PushAsync(api, repo, parse.GetValue(localRepo)!, refName,
                parse.GetValue(force), Progress.For(ctx.Out), token);
            await ctx.Out.WriteLineAsync($"{result.Ref} -> {result.Commit} ({result.Uploaded} of {result.Total} objects uploaded, {result.Bytes} bytes)");
            if (parse.GetValue(version) is { } v)
            {
                var target = await api.PostAsync<TargetInfo>("api/v1/targets", new CreateTargetRequest(v, refName, result.Commit, repo,
                    Split(parse.GetValue(tags)), Split(parse.GetValue(hwIds))), token);
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
            throw Fail($"{localPath} is not an archive-mode ostree repository (config core.mode must be archive-z2); " +
                "create it with 'ostree init --mode=archive' or copy the commit there with 'ostree pull-local'.");
        var commit = local.ResolveRef(refName)
            ?? (Checksum.TryParse(refName, out var c) ? c : throw Fail($"Unknown ref '{refName}' in {localPath}."));
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var walk = local.WalkCommit(commit);
        if (walk.Missing.Count > 0)
            throw Fail($"Commit {commit} is incomplete in {localPath}: {walk.Missing.Count} objects are missing (first: {walk.Missing[0]}).");
        var all = walk.Present;
        progress.Line($"Commit {commit}: {all.Count} objects (walked in {clock.Elapsed.TotalSeconds:0.00} s)");
        clock.Restart();

        var missing = new List<ObjectName>();
        for (var i = 0; i < all.Count; i += QueryBatch)
        {
            var batch = all.Skip(i).Take(QueryBatch).Select(o => o.ToString()).ToList();
            var body = await api.PostAsync<MissingResponse>($"api/v1/repos/{Uri.EscapeDataString(repo)}/objects/missing",
                new { objects = batch }, cancellationToken);
            missing.AddRange(body.Missing.Select(ObjectName.Parse));
        }

        long totalBytes = missing.Sum(o => new FileInfo(Path.Combine(localPath, o.RelativePath)).Length);
        progress.Line($"Uploading {missing.Count} missing objects ({totalBytes} bytes; asked in {clock.Elapsed.TotalSeconds:0.00} s)");
        clock.Restart();
        if (missing.Count > 0)
        {
            // Metadata last: a reader of the staging folder never sees a commit before its tree.
            missing.Sort((a, b) => (a.Type == ObjectType.File ? 0 : 1).CompareTo(b.Type == ObjectType.File ? 0 : 1));
            using var upload = new HttpRequestMessage(HttpMethod.Post, $"api/v1/repos/{Uri.EscapeDataString(repo)}/objects")
            {
                Content = new TarUploadContent(localPath, missing, totalBytes, progress),
            };
            using var _ = await api.SendAsync(upload, HttpCompletionOption.ResponseContentRead, cancellationToken);
            progress.Done();
        }

        progress.Line($"Uploaded and verified in {clock.Elapsed.TotalSeconds:0.00} s");
        clock.Restart();
        var refs = await api.GetAsync<List<RefEntry>>($"api/v1/repos/{Uri.EscapeDataString(repo)}/refs", cancellationToken);
        var expected = refs.FirstOrDefault(r => r.Name == refName)?.Commit;
        using var move = new HttpRequestMessage(HttpMethod.Put, $"api/v1/repos/{Uri.EscapeDataString(repo)}/refs/{refName}")
        {
            Content = JsonContent.Create(new { commit = commit.ToString(), expected, force }),
        };
        using var __ = await api.SendAsync(move, HttpCompletionOption.ResponseContentRead, cancellationToken);
        progress.Line($"Ref moved in {clock.Elapsed.TotalSeconds:0.00} s");
        return new PushResult(refName, commit.ToString(), all.Count, missing.Count, totalBytes);
    }

    private static ApiException Fail(string message) => new(null, message, ExitCodes.Failed);

    private sealed record MissingResponse(List<string> Missing);

    private sealed record RefEntry(string Name, string Commit);

    /// <summary>Streams the objects as a zstd-compressed tar straight into the request body.</summary>
    private sealed class TarUploadContent : HttpContent
    {
        private readonly string _root;
        private readonly IReadOnlyList<ObjectName> _objects;
        private readonly long _totalBytes;
        private readonly Progress _progress;

        public TarUploadContent(string root, IReadOnlyList<ObjectName> objects, long totalBytes, Progress progress)
        {
            _root = root;
            _objects = objects;
            _totalBytes = totalBytes;
            _progress = progress;
            Headers.ContentType = new MediaTypeHeaderValue("application/x-tar");
            Headers.ContentEncoding.Add("zstd");
        }

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
        {
            await using var zstd = new CompressionStream(stream, level: 1, leaveOpen: true);
            zstd.SetParameter(ZstdSharp.Unsafe.ZSTD_cParameter.ZSTD_c_nbWorkers, Math.Max(1, Environment.ProcessorCount - 1));
            await using (var tar = new TarWriter(zstd, TarEntryFormat.Pax, leaveOpen: true))
            {
                long sent = 0;
                foreach (var o in _objects)
                {
                    var path = Path.Combine(_root, o.RelativePath);
                    await using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
                    var entry = new PaxTarEntry(TarEntryType.RegularFile, o.RelativePath) { DataStream = file };
                    await tar.WriteEntryAsync(entry, cancellationToken);
                    sent += file.Length;
                    _progress.Report(sent, _totalBytes);
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
