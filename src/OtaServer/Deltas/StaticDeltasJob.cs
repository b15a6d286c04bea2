using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using OtaServer.Deltas;
using OtaServer.Jobs;
using OtaServer.Targets;

namespace OtaServer.Deltas;

/// <summary>One delta to generate. <see cref="From"/> null = from scratch. Versions are informational (log lines).</summary>
public sealed record DeltaPair(string? From, string To, long? FromVersion = null, long? ToVersion = null);

/// <summary>Payload of a <c>static-deltas</c> job.</summary>
public sealed record StaticDeltasPayload(string Repository, IReadOnlyList<DeltaPair> Pairs);

/// <summary>The <c>static-deltas</c> job kind: generates each missing pair through <see cref="IDeltaService"/>.</summary>
public static class StaticDeltasJob
{
    public const string Kind = "static-deltas";

    /// <summary>Same repository and same set of (from, to) commits → same key, whatever the order or the versions.</summary>
    public static string DedupKey(string repository, IEnumerable<DeltaPair> pairs)
    {
        var set = pairs.Select(p => (p.From ?? "-") + ">" + p.To).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal);
        var digest = SHA256.HashData(Encoding.UTF8.GetBytes(repository + "\n" + string.Join("\n", set)));
        return Kind + ":" + repository + ":" + Convert.ToHexStringLower(digest);
    }

    /// <summary>Queues generation of <paramref name="pairs"/> (or returns the identical pending/running job).</summary>
    public static Task<(JobInfo Job, bool Created)> EnqueueAsync(IJobQueue queue, string repository, IReadOnlyList<DeltaPair> pairs, CancellationToken cancellationToken) =>
        queue.EnqueueAsync(Kind, new StaticDeltasPayload(repository, pairs), DedupKey(repository, pairs), cancellationToken);
}

internal sealed class StaticDeltasJobHandler(IDeltaService deltas, DeltaLookup lookup) : IJobHandler
{
    // The one pair lock: one generation of a given pair at a time in this process, whichever jobs ask for it (every
    // generation runs in this handler; DeltaService.GenerateAsync relies on it).
    private static readonly ConcurrentDictionary<string, SemaphoreSlim> PairLocks = new(StringComparer.Ordinal);

    public string Kind => StaticDeltasJob.Kind;

    public async Task RunAsync(JobContext job, CancellationToken cancellationToken)
    {
        var payload = job.Payload.Deserialize<StaticDeltasPayload>(JobQueue.PayloadJson)
            ?? throw new InvalidOperationException("The job payload is empty.");
        if (payload.Pairs is null || payload.Pairs.Count == 0)
            throw new InvalidOperationException("The job payload lists no delta pairs.");
        job.Log.Write($"Repository {payload.Repository}: {payload.Pairs.Count} static delta(s) to check");
        var generated = 0;
        foreach (var pair in payload.Pairs)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var name = Describe(pair);
            var gate = PairLocks.GetOrAdd(payload.Repository + ":" + pair.From + ">" + pair.To, _ => new SemaphoreSlim(1, 1));
            await gate.WaitAsync(cancellationToken);
            try
            {
                if (deltas.Find(payload.Repository, pair.From, pair.To) is { } existing)
                {
                    job.Log.Write($"{name}: already exists ({existing.DownloadBytes} bytes to download), skipped");
                    continue;
                }
                job.Log.Write($"{name}: generating");
                var stats = await deltas.GenerateAsync(payload.Repository, pair.From, pair.To, job.Log, cancellationToken);
                generated++;
                job.Log.Write($"{name}: done, {stats.Parts} part(s), {stats.DownloadBytes} bytes to download, {stats.GenerationSeconds:0.0} s");
            }
            finally
            {
                gate.Release();
                lookup.Invalidate(payload.Repository, pair.From, pair.To);
            }
        }
        job.Log.Write($"Generated {generated} static delta(s), {payload.Pairs.Count - generated} already existed");
    }

    private static string Describe(DeltaPair p)
    {
        var from = p.FromVersion is { } fv ? fv.ToString(System.Globalization.CultureInfo.InvariantCulture) : Short(p.From);
        var to = p.ToVersion is { } tv ? tv.ToString(System.Globalization.CultureInfo.InvariantCulture) : Short(p.To);
        return $"{from} -> {to} ({Short(p.From)} -> {Short(p.To)})";
    }

    private static string Short(string? commit) => commit is null ? "scratch" : commit.Length > 12 ? commit[..12] : commit;
}
