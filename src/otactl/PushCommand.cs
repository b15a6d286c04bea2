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

    public static Command Create(Option<string?> serverOption, Option<string?> tokenOption)
    {
        var repoOption = new Option<string>("--repo") { Description = "Repository on the server", DefaultValueFactory = _ => "main" };
        var localRepo = new Argument<string>("LOCAL_REPO") { Description = "Path to a local archive-mode ostree repository" };
        var refArg = new Argument<string>("REF") { Description = "Ref to push (its commit and everything reachable from it)" };
        var force = new Option<bool>("--force") { Description = "Move the ref even when the new commit does not descend from the server's" };
        var cmd = new Command("push", "Push a commit from a local archive repository to the server and move the ref")
        {
            repoOption, localRepo, refArg, force,
        };
        cmd.SetAction(async (parse, ct) =>
        {
            var output = parse.InvocationConfiguration.Output;
            var error = parse.InvocationConfiguration.Error;
            try
            {
                using var api = ApiConnection.Create(parse.GetValue(serverOption), parse.GetValue(tokenOption));
                var progress = Progress.For(output);
                var result = await PushAsync(api, parse.GetValue(repoOption)!, parse.GetValue(localRepo)!, parse.GetValue(refArg)!,
                    parse.GetValue(force), progress, ct);
                output.WriteLine($"{result.Ref} -> {result.Commit} ({result.Uploaded} of {result.Total} objects uploaded, {result.Bytes} bytes)");
                return 0;
            }
            catch (CliException e)
            {
                error.WriteLine("error: " + e.Message);
                return e.ExitCode;
            }
        });
        return cmd;
    }

    public sealed record PushResult(string Ref, string Commit, int Total, int Uploaded, long Bytes);

    public static async Task<PushResult> PushAsync(ApiConnection api, string repo, string localPath, string refName, bool force,
        Progress progress, CancellationToken cancellationToken)
    {
        if (!Directory.Exists(localPath))
            throw new CliException($"{localPath}: no such directory.");
        var local = new ArchiveRepository(localPath);
        if (!local.IsArchive)
            throw new CliException($"{localPath} is not an archive-mode ostree repository (config core.mode must be archive-z2); " +
                "create it with 'ostree init --mode=archive' or copy the commit there with 'ostree pull-local'.");
        var commit = local.ResolveRef(refName)
            ?? (Checksum.TryParse(refName, out var c) ? c : throw new CliException($"Unknown ref '{refName}' in {localPath}."));
        var walk = local.WalkCommit(commit);
        if (walk.Missing.Count > 0)
            throw new CliException($"Commit {commit} is incomplete in {localPath}: {walk.Missing.Count} objects are missing (first: {walk.Missing[0]}).");
        var all = walk.Present;
        progress.Line($"Commit {commit}: {all.Count} objects");

        var missing = new List<ObjectName>();
        for (var i = 0; i < all.Count; i += QueryBatch)
        {
            var batch = all.Skip(i).Take(QueryBatch).Select(o => o.ToString()).ToList();
            var response = await api.SendAsync(HttpMethod.Post, $"api/v1/repos/{Uri.EscapeDataString(repo)}/objects/missing",
                JsonContent.Create(new { objects = batch }), cancellationToken);
            var body = await response.Content.ReadFromJsonAsync<MissingResponse>(cancellationToken)
                ?? throw new CliException("The server sent an empty answer to the missing-objects query.");
            missing.AddRange(body.Missing.Select(ObjectName.Parse));
        }

        long totalBytes = missing.Sum(o => new FileInfo(Path.Combine(localPath, o.RelativePath)).Length);
        progress.Line($"Uploading {missing.Count} missing objects ({totalBytes} bytes)");
        if (missing.Count > 0)
        {
            // Metadata last: a reader of the staging folder never sees a commit before its tree.
            missing.Sort((a, b) => (a.Type == ObjectType.File ? 0 : 1).CompareTo(b.Type == ObjectType.File ? 0 : 1));
            var content = new TarUploadContent(localPath, missing, totalBytes, progress);
            await api.SendAsync(HttpMethod.Post, $"api/v1/repos/{Uri.EscapeDataString(repo)}/objects", content, cancellationToken);
            progress.Done();
        }

        string? expected = null;
        var refs = await api.SendAsync(HttpMethod.Get, $"api/v1/repos/{Uri.EscapeDataString(repo)}/refs", null, cancellationToken);
        var list = await refs.Content.ReadFromJsonAsync<List<RefEntry>>(cancellationToken) ?? [];
        expected = list.FirstOrDefault(r => r.Name == refName)?.Commit;
        await api.SendAsync(HttpMethod.Put, $"api/v1/repos/{Uri.EscapeDataString(repo)}/refs/{refName}",
            JsonContent.Create(new { commit = commit.ToString(), expected, force }), cancellationToken);
        return new PushResult(refName, commit.ToString(), all.Count, missing.Count, totalBytes);
    }

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
