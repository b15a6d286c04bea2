using System.Globalization;
using OtaServer.OSTree;
using OtaServer.Repositories.Storage;

namespace OtaServer.Repositories;

/// <summary>
/// One served archive repository, and everything about it in storage: the layout (which key holds an object, a ref, a
/// delta, an index), reading (<see cref="Reader"/>), create-only and replace-atomically writes, the metadata lock,
/// publishing and deleting deltas with their markers, and regenerating <c>summary</c>, <c>config</c> and delta indexes
/// in the order clients depend on. Nothing outside it builds a key or a path; one object per configured repository,
/// handed out by <see cref="RepositoryRegistry"/>.
/// </summary>
public sealed partial class Repository
{
    /// <summary>Marker file inside a delta folder: the delta is unpublished and awaits removal.</summary>
    public const string DeletedMarker = ".deleted";

    /// <summary>Stats document written next to a delta's superblock.</summary>
    public const string DeltaStatsFile = "stats.json";

    private const string SummaryKey = "summary";
    private const string SummarySignatureKey = "summary.sig";
    private const string ConfigKey = "config";

    private readonly SemaphoreSlim _lock = new(1, 1);
    private readonly TimeProvider _time;
    private readonly ISummarySigner _signer;
    private readonly SummaryPairs _pairs;
    private readonly ILogger _logger;

    internal Repository(string name, IRepositoryStorage storage, TimeProvider time, ISummarySigner signer, SummaryPairs pairs, ILogger logger)
    {
        Name = name;
        Storage = storage;
        Reader = new ArchiveRepository(storage);
        _time = time;
        _signer = signer;
        _pairs = pairs;
        _logger = logger;
    }

    public string Name { get; }

    /// <summary>The storage seam beneath this repository.</summary>
    public IRepositoryStorage Storage { get; }

    /// <summary>Reads objects, refs, config and deltas (the format library's reader, over <see cref="Storage"/>).</summary>
    public ArchiveRepository Reader { get; }

    /// <summary>Takes the repository's metadata lock (refs, summary, config, delta indexes and markers); dispose to release.</summary>
    public async Task<IDisposable> LockAsync(CancellationToken cancellationToken)
    {
        await _lock.WaitAsync(cancellationToken);
        return new Releaser(_lock);
    }

    // ---------------------------------------------------------------- objects

    public bool HasObject(ObjectName name) => Storage.Exists(name.RelativePath);

    /// <summary>Stores a verified object, create-only.</summary>
    public PutOutcome PutObject(ObjectName name, ReadOnlySpan<byte> bytes) => Storage.PutImmutable(name.RelativePath, bytes);

    /// <summary>Stores a verified object written to a file of a scratch folder, create-only; the file is consumed.</summary>
    public PutOutcome PutObjectFile(ObjectName name, string scratchFile) => Storage.PutImmutableFile(name.RelativePath, scratchFile);

    /// <summary>A new scratch folder for work in progress (see <see cref="IRepositoryStorage.CreateScratchFolder"/>).</summary>
    public string CreateScratchFolder(string purpose) => Storage.CreateScratchFolder(purpose);

    /// <summary>
    /// Marks a commit stored before all of its objects (<c>state/&lt;commit&gt;.commitpartial</c>, OSTree's own mark for an
    /// interrupted pull): <c>ostree fsck</c> skips it instead of reporting corruption.
    /// </summary>
    public void MarkPartial(Checksum commit) => Storage.PutImmutable(PartialKey(commit), []);

    /// <summary>The commit is complete now (checked by the caller).</summary>
    public void ClearPartial(Checksum commit) => Storage.Delete(PartialKey(commit));

    private static string PartialKey(Checksum commit) => "state/" + commit + ".commitpartial";

    // ---------------------------------------------------------------- refs

    /// <summary>Points a ref at a commit (call with the lock held, then <see cref="RegenerateSummary"/>).</summary>
    public void WriteRef(string refName, Checksum commit) =>
        Storage.Replace(ArchiveRepository.RefKey(refName), System.Text.Encoding.ASCII.GetBytes(commit + "\n"));

    // ---------------------------------------------------------------- deltas

    /// <summary>The published deltas (superblock present, not marked deleted).</summary>
    public IReadOnlyList<DeltaName> ListPublishedDeltas() => Reader.ListDeltas().Where(d => !IsMarkedDeleted(d)).ToList();

    public bool IsPublished(DeltaName delta) => Storage.Exists(delta.SuperblockRelativePath) && !IsMarkedDeleted(delta);

    /// <summary>True when the delta's files are stored, listed or not.</summary>
    public bool HasDeltaFiles(DeltaName delta) => Storage.Exists(delta.SuperblockRelativePath);

    public bool IsMarkedDeleted(DeltaName delta) => Storage.Exists(MarkerKey(delta));

    /// <summary>Opens one file of a delta's folder (superblock, a part, <see cref="DeltaStatsFile"/>), or null.</summary>
    public IStoredFile? OpenDeltaFile(DeltaName delta, string file) => Storage.Open(delta.RelativeDirectory + "/" + file);

    /// <summary>The bytes of one (small) file of a delta's folder, or null.</summary>
    public byte[]? ReadDeltaFile(DeltaName delta, string file)
    {
        using var stream = Storage.OpenRead(delta.RelativeDirectory + "/" + file);
        if (stream is null)
            return null;
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }

    /// <summary>
    /// Publishes a generated delta folder create-only and lists it (summary, index). False if the delta's folder
    /// appeared meanwhile (the scratch folder is then left to the caller).
    /// </summary>
    public async Task<bool> PublishDeltaAsync(DeltaName delta, string scratchFolder)
    {
        using (await LockAsync(CancellationToken.None))
        {
            if (Storage.PutImmutableFolder(delta.RelativeDirectory, scratchFolder) != PutOutcome.Created)
                return false;
            RegenerateSummary();
        }
        return true;
    }

    /// <summary>Lists a deleted but not yet removed delta again (its files are the same bytes a new run would make).</summary>
    public async Task RestoreDeltaAsync(DeltaName delta, CancellationToken cancellationToken)
    {
        using (await LockAsync(cancellationToken))
        {
            Storage.Delete(MarkerKey(delta));
            RegenerateSummary();
        }
    }

    /// <summary>Unlists a delta now (summary and index); its files stay until <see cref="RemoveDeltaFiles"/>. False if it was not published.</summary>
    public async Task<bool> UnlistDeltaAsync(DeltaName delta, CancellationToken cancellationToken)
    {
        using (await LockAsync(cancellationToken))
        {
            if (!IsPublished(delta))
                return false;
            // Atomic: a torn or empty marker would block the cleanup. A kill before the summary is rewritten is
            // repaired at start (RepositoryReconciler) and before the files go (RemoveExpiredDeltasAsync).
            Storage.Replace(MarkerKey(delta), System.Text.Encoding.ASCII.GetBytes(_time.GetUtcNow().ToString("O", CultureInfo.InvariantCulture)));
            RegenerateSummary();
        }
        return true;
    }

    /// <summary>When a delta was unlisted: the marker's timestamp, or (unreadable or empty marker) its file time; null if it is not.</summary>
    public DateTimeOffset? DeletedAt(DeltaName delta)
    {
        using var marker = Storage.Open(MarkerKey(delta));
        if (marker is null)
            return null;
        var buffer = new byte[Math.Min(marker.Length, 64)];
        var read = marker.ReadAt(buffer, 0);
        return DateTimeOffset.TryParse(System.Text.Encoding.ASCII.GetString(buffer, 0, read), CultureInfo.InvariantCulture,
            DateTimeStyles.RoundtripKind, out var at) ? at : marker.LastModified;
    }

    /// <summary>
    /// Removes the files of unlisted deltas for which <paramref name="expired"/> holds. The summary is checked first,
    /// under the lock, so it never lists a delta whose files are gone. Returns how many went.
    /// </summary>
    public async Task<int> RemoveUnlistedDeltasAsync(Func<DateTimeOffset, bool> expired, CancellationToken cancellationToken)
    {
        var due = Reader.ListDeltas().Where(d => DeletedAt(d) is { } at && expired(at)).ToList();
        if (due.Count == 0)
            return 0;
        using (await LockAsync(cancellationToken))
        {
            if (!SummaryMatchesStorage())
                RegenerateSummary();
            foreach (var delta in due)
                Storage.DeleteFolder(delta.RelativeDirectory);
        }
        return due.Count;
    }

    private static string MarkerKey(DeltaName delta) => delta.RelativeDirectory + "/" + DeletedMarker;

    // ---------------------------------------------------------------- summary

    /// <summary>True when a <c>summary</c> is stored.</summary>
    public bool HasSummary => Storage.Exists(SummaryKey);

    /// <summary>True when a <c>summary.sig</c> is stored.</summary>
    public bool HasSummarySignature => Storage.Exists(SummarySignatureKey);

    /// <summary>Whether summaries are signed.</summary>
    public bool SignsSummary => _signer.Enabled;

    /// <summary>Rewrites delta indexes, config and summary, in that order. Call with the lock held.</summary>
    public void RegenerateSummary()
    {
        SyncAllDeltaCommitMeta(); // each superblock carries its target's current .commitmeta (see Repository.CommitMeta.cs)
        var deltas = new List<SummaryDelta>();
        foreach (var d in ListPublishedDeltas())
        {
            if (Reader.DigestSuperblock(d) is { } digest)
                deltas.Add(new SummaryDelta(d, digest));
        }

        // 1. Delta indexes: one per target, listing every delta to it; stale ones removed.
        var wanted = new HashSet<string>(StringComparer.Ordinal);
        foreach (var group in deltas.GroupBy(d => d.Name.To))
        {
            var key = DeltaName.IndexRelativePath(group.Key);
            wanted.Add(key);
            Storage.Replace(key, DeltaIndex.Write(group.Key, group));
        }
        foreach (var stale in Storage.List("delta-indexes/").Where(k => k.EndsWith(".index", StringComparison.Ordinal) && !wanted.Contains(k)).ToList())
            Storage.Delete(stale);

        // 2. config: indexed deltas on, so ref@commit pulls find the indexes without the summary.
        var config = Reader.ReadConfig();
        if (!config.IndexedDeltas)
        {
            config.Set("core", "indexed-deltas", "true");
            Storage.Replace(ConfigKey, System.Text.Encoding.UTF8.GetBytes(config.ToString()));
        }

        // 3. summary (we always serve config, so the mode keys may be listed).
        var refs = Reader.ListSummaryRefs();
        var summary = SummaryWriter.Write(refs, deltas, new SummaryOptions
        {
            IndexedDeltas = true,
            Mode = config.Mode ?? "archive-z2",
            TombstoneCommits = config.TombstoneCommits,
            LastModified = _time.GetUtcNow(),
        });
        if (_signer.Enabled)
        {
            // Both files are replaced by rename, the signature right after the summary it covers; served as one
            // generation (see SummaryPairs). The files are for restarts and other servers.
            var sig = _signer.SignSummary(summary);
            _pairs.Published(Name, summary, sig);
            Storage.Replace(SummaryKey, summary);
            Storage.Replace(SummarySignatureKey, sig);
        }
        else
        {
            Storage.Replace(SummaryKey, summary);
            // A signature over the previous summary no longer matches.
            Storage.Delete(SummarySignatureKey);
        }
        LogRegenerated(_logger, Name, refs.Count, deltas.Count);
    }

    /// <summary>True when <c>summary</c> lists exactly the refs under refs/heads and the published deltas.</summary>
    public bool SummaryMatchesStorage()
    {
        Summary? summary;
        try
        {
            summary = Reader.ReadSummary();
        }
        catch (Exception e) when (e is IOException or FormatException)
        {
            return false; // unreadable or torn: write it anew
        }
        var refs = Reader.ListRefs().Select(r => (r.Name, r.Commit)).ToHashSet();
        var published = ListPublishedDeltas();
        if (summary is null)
            return refs.Count == 0 && published.Count == 0; // a new, empty repository has no summary until its first ref
        if (!refs.SetEquals(summary.Refs.Select(r => (r.Name, r.Commit))))
            return false;
        var deltas = new HashSet<(DeltaName, Checksum)>();
        foreach (var d in published)
        {
            if (Reader.DigestSuperblock(d) is not { } digest)
                return false;
            deltas.Add((d, digest));
        }
        return deltas.SetEquals(summary.Deltas.Select(d => (d.Name, d.SuperblockChecksum)));
    }

    private sealed class Releaser(SemaphoreSlim gate) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
                gate.Release();
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Regenerated summary of {Repo}: {Refs} refs, {Deltas} deltas")]
    private static partial void LogRegenerated(ILogger logger, string repo, int refs, int deltas);
}
