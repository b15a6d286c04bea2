using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using OtaServer.OSTree;
using OtaServer.OSTree.StaticDeltas;
using GV = OtaServer.OSTree.GVariant;

namespace OtaAgent;

/// <summary>What the resumable delta path did.</summary>
/// <param name="Applied">The delta's objects (and the target commit) are in the repository.</param>
/// <param name="BytesReceived">Response body bytes received in this cycle (superblock and parts).</param>
/// <param name="OstreePullReason">Set when this delta cannot be applied offline and <c>ostree pull</c> must do it.</param>
internal sealed record DeltaFetchResult(bool Applied, long BytesReceived, string? OstreePullReason);

/// <summary>
/// Spotty links: fetches a static delta's superblock and parts into the state folder with HTTP Range
/// resumption (a cut transfer goes on from the byte it stopped at, in this cycle or the next one), checks
/// every part against the SHA-256 the superblock declares, then applies it with
/// <c>ostree static-delta apply-offline</c>. ostree 2022.7 refuses offline application of a delta with
/// fallback entries; such a delta is left to <c>ostree pull</c>.
/// </summary>
internal sealed class DeltaDownload(HttpClient http, AgentConfig config, TextWriter log)
{
    private const string SuperblockType = DeltaSizes.SuperblockType;

    private string Root => Path.Combine(config.StateDir, "downloads");

    /// <summary>Response body bytes received so far (cut transfers included).</summary>
    private long _received;

    /// <summary>Downloads (or resumes) and applies the delta <paramref name="from"/> → <paramref name="to"/> from <paramref name="repositoryUrl"/>.</summary>
    public async Task<DeltaFetchResult> FetchAndApplyAsync(string repositoryUrl, string? from, string to, CancellationToken ct)
    {
        var name = new DeltaName(from is null ? null : Checksum.Parse(from), Checksum.Parse(to));
        var dir = Path.Combine(Root, name.ToString());
        // Downloads of other deltas (an older target, a changed base) are never resumed: drop them.
        if (Directory.Exists(Root))
        {
            foreach (var other in Directory.EnumerateDirectories(Root))
            {
                if (Path.GetFileName(other) != name.ToString())
                    Directory.Delete(other, recursive: true);
            }
        }

        Directory.CreateDirectory(dir);
        var baseUri = new Uri(repositoryUrl.TrimEnd('/') + "/" + name.RelativeDirectory + "/");

        var superblockPath = Path.Combine(dir, "superblock");
        await FetchFileAsync(new Uri(baseUri, "superblock"), superblockPath, expectedSize: null, expectedSha256: null, ct);
        GV sb;
        try
        {
            sb = GV.Parse(SuperblockType, await File.ReadAllBytesAsync(superblockPath, ct));
            if (Convert.ToHexStringLower(sb[3].GetBytes().Span) != to || (from is not null && Convert.ToHexStringLower(sb[2].GetBytes().Span) != from))
                throw new FormatException("the superblock is for another update");
        }
        catch (Exception e) when (e is FormatException or InvalidOperationException or ArgumentException or IndexOutOfRangeException or InvalidObjectException)
        {
            File.Delete(superblockPath);
            throw new ServerAnswerException($"the delta superblock is unusable ({e.Message})");
        }
        var big = sb[0].Lookup("ostree.endianness") is { } v && v.Type == GVariantType.Byte && v.GetByte() == (byte)'B';
        ulong U(GV t) => big ? t.GetUInt64BigEndian() : t.GetUInt64();

        if (sb[7].Count > 0)
        {
            return new DeltaFetchResult(false, _received,
                $"the delta has {sb[7].Count} fallback object(s), which ostree 2022.7 does not apply offline");
        }

        var parts = sb[6].Items;
        long total = parts.Sum(p => (long)U(p[2]));
        log.WriteLine($"Delta {name}: {parts.Count} part(s), {total} bytes.");
        for (var i = 0; i < parts.Count; i++)
        {
            if (sb[0].Lookup(name.PartRelativePath(i)) is not null)
                continue; // inline in the superblock
            var size = (long)U(parts[i][2]);
            var before = _received;
            await FetchFileAsync(new Uri(baseUri, i.ToString(CultureInfo.InvariantCulture)), Path.Combine(dir, i.ToString(CultureInfo.InvariantCulture)),
                size, parts[i][1].GetBytes().ToArray(), ct);
            log.WriteLine($"Delta part {i}: {size} bytes ({_received - before} received in this cycle).");
        }

        log.WriteLine("Applying the delta (ostree static-delta apply-offline).");
        var r = await Ostree.RunAsync(["--repo=" + config.RepoPath, "static-delta", "apply-offline", superblockPath], ct);
        if (!r.Ok)
        {
            // The parts were checked; a refusal here is ostree's (e.g. a missing base): leave it to ostree pull.
            Directory.Delete(dir, recursive: true);
            return new DeltaFetchResult(false, _received, "ostree static-delta apply-offline: " + r.Message);
        }
        Directory.Delete(dir, recursive: true);
        return new DeltaFetchResult(true, _received, null);
    }

    /// <summary>
    /// Fetches <paramref name="url"/> into <paramref name="path"/> (via <c>path.partial</c>, resumed with Range),
    /// retrying cut transfers; the file appears under its name only complete and, when a checksum is given, checked.
    /// </summary>
    private async Task FetchFileAsync(Uri url, string path, long? expectedSize, byte[]? expectedSha256, CancellationToken ct)
    {
        if (File.Exists(path))
            return;
        var partial = path + ".partial";
        for (var attempt = 1; ; attempt++)
        {
            var have = File.Exists(partial) ? new FileInfo(partial).Length : 0;
            if (expectedSize is { } size && have > size)
            {
                File.Delete(partial);
                have = 0;
            }
            bool complete;
            try
            {
                if (expectedSize is { } s && have == s)
                {
                    complete = true;
                }
                else
                {
                    complete = await TransferAsync(url, partial, have, expectedSize, ct);
                }
            }
            catch (Exception e) when (!ct.IsCancellationRequested && e is HttpRequestException or IOException or OperationCanceledException)
            {
                var now = File.Exists(partial) ? new FileInfo(partial).Length : 0;
                if (attempt >= config.DownloadAttempts)
                    throw new HttpRequestException($"{url.AbsolutePath}: the transfer broke off {attempt} times (last: {e.Message}); {now} bytes kept for the next cycle", e);
                log.WriteLine($"{url.AbsolutePath}: transfer cut at byte {now} ({e.Message}); resuming.");
                await Task.Delay(TimeSpan.FromMilliseconds(config.DownloadRetryDelayMilliseconds * attempt), ct);
                continue;
            }
            if (!complete)
                continue;
            if (expectedSha256 is not null)
            {
                byte[] actual;
                await using (var f = File.OpenRead(partial))
                    actual = await SHA256.HashDataAsync(f, ct);
                if (!actual.AsSpan().SequenceEqual(expectedSha256))
                {
                    File.Delete(partial);
                    if (attempt >= config.DownloadAttempts)
                        throw new ServerAnswerException($"{url.AbsolutePath} does not match the checksum its superblock declares");
                    log.WriteLine($"{url.AbsolutePath}: checksum mismatch; fetching it again.");
                    continue;
                }
            }
            File.Move(partial, path, overwrite: true);
            return;
        }
    }

    /// <summary>One GET from byte <paramref name="offset"/>; appends to <paramref name="partial"/>. Returns whether the file is complete.</summary>
    private async Task<bool> TransferAsync(Uri url, string partial, long offset, long? expectedSize, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        if (offset > 0)
            request.Headers.Range = new RangeHeaderValue(offset, null);
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
        long start;
        switch (response.StatusCode)
        {
            case HttpStatusCode.PartialContent when response.Content.Headers.ContentRange is { From: { } from } && from == offset:
                start = offset;
                break;
            case HttpStatusCode.OK:
                start = 0; // the server sent it all again: start over
                break;
            case HttpStatusCode.RequestedRangeNotSatisfiable:
                File.Delete(partial);
                return false;
            case HttpStatusCode.NotFound:
                throw new ServerAnswerException($"{url.AbsolutePath} answered 404: the offered delta is not on the server");
            default:
                if ((int)response.StatusCode >= 500)
                    throw new HttpRequestException($"{url.AbsolutePath} answered {(int)response.StatusCode}");
                throw new ServerAnswerException($"{url.AbsolutePath} answered {(int)response.StatusCode}");
        }
        var length = response.Content.Headers.ContentLength;
        if (expectedSize is { } size && length is { } l && start + l != size)
            throw new ServerAnswerException($"{url.AbsolutePath} is {start + l} bytes, its superblock says {size}");

        await using var body = await response.Content.ReadAsStreamAsync(ct);
        await using var file = new FileStream(partial, start == 0 ? FileMode.Create : FileMode.Append, FileAccess.Write, FileShare.None, 0);
        var buffer = new byte[64 * 1024];
        long got = 0;
        using var idle = CancellationTokenSource.CreateLinkedTokenSource(ct);
        while (true)
        {
            // A stalled link counts as cut: no byte for the idle timeout ends this attempt (resumed next).
            idle.CancelAfter(TimeSpan.FromSeconds(config.DownloadIdleTimeoutSeconds));
            var n = await body.ReadAsync(buffer, idle.Token);
            if (n == 0)
                break;
            await file.WriteAsync(buffer.AsMemory(0, n), ct);
            got += n;
            _received += n;
        }
        await file.FlushAsync(ct);
        file.Flush(flushToDisk: true);
        if (length is { } expected && got != expected)
            throw new IOException($"the answer ended after {got} of {expected} bytes");
        return true;
    }
}
