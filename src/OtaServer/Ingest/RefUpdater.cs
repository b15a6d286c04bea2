using OtaServer.OSTree;
using OtaServer.Repositories;

namespace OtaServer.Ingest;

/// <summary>
/// Moves refs with compare-and-swap, only to complete commits, and regenerates the summary in the
/// same critical section so the ref file and the summary never disagree for long.
/// </summary>
internal sealed partial class RefUpdater(Signing.CommitSignaturePolicy signatures, ILogger<RefUpdater> logger)
{
    public IReadOnlyList<RefInfo> List(Repository repository) =>
        repository.Reader.ListRefs()
            .Select(r => new RefInfo(r.Name, r.Commit.ToString()))
            .OrderBy(r => r.Name, StringComparer.Ordinal)
            .ToList();

    public async Task<RefInfo> UpdateAsync(Repository repository, string refName, RefUpdateRequest request, CancellationToken cancellationToken)
    {
        if (!ArchiveRepository.IsValidRefName(refName))
        {
            throw new IngestException(400, "Invalid ref name",
                $"'{refName}' is not a valid ref: use segments of letters, digits, '-', '.', '_' separated by '/', each starting with a letter, digit or '_'.");
        }

        if (!Checksum.TryParse(request.Commit, out var commit))
            throw new IngestException(400, "Invalid commit", "'commit' must be a 64-character hex checksum.");
        Checksum? expected = null;
        if (request.Expected is not null)
        {
            if (!Checksum.TryParse(request.Expected, out var e))
                throw new IngestException(400, "Invalid expected value", "'expected' must be a 64-character hex checksum or null.");
            expected = e;
        }

        using var _ = await repository.LockAsync(cancellationToken);
        var repo = repository.Reader;
        if (!repo.HasObject(new ObjectName(commit, ObjectType.Commit)))
        {
            throw new IngestException(422, "Commit not found",
                $"Commit {commit} is not in repository '{repository.Name}'; upload its objects first.", [new ObjectName(commit, ObjectType.Commit).ToString()]);
        }

        var walk = repo.WalkCommit(commit);
        if (!walk.IsComplete)
        {
            throw new IngestException(422, "Incomplete commit",
                $"{walk.Missing.Count} object(s) reachable from {commit} are missing; upload them before moving the ref.",
                walk.Missing.Select(m => m.ToString()).ToList());
        }

        repository.ClearPartial(commit);
        // RequireSignedCommits: a good signature by a trusted key, or no ref moves (Signing/CommitSignaturePolicy).
        if (signatures.Check(repository.Name, repo, commit) is { } refusal)
            throw new IngestException(422, refusal.Title, refusal.Detail);

        var current = repo.ResolveRef(refName);
        if (!request.Force || expected is not null)
        {
            if (current != expected)
            {
                throw new IngestException(409, "Ref changed",
                    $"Ref '{refName}' is at {Describe(current)}, not at the expected {Describe(expected)}. Fetch the refs and retry.");
            }
        }
        if (!request.Force && current is { } cur && cur != commit && !Descends(repo, commit, cur))
        {
            throw new IngestException(409, "Not a fast-forward",
                $"Commit {commit} does not descend from {cur}, the current value of '{refName}'. Use force to replace it.");
        }

        if (current != commit)
        {
            repository.WriteRef(refName, commit);
            LogRefMoved(logger, repository.Name, refName, Describe(current), commit.ToString());
        }
        repository.RegenerateSummary();
        return new RefInfo(refName, commit.ToString());
    }

    private static bool Descends(ArchiveRepository repo, Checksum commit, Checksum ancestor)
    {
        var seen = new HashSet<Checksum>();
        Checksum? c = commit;
        while (c is { } cur && seen.Add(cur))
        {
            if (cur == ancestor)
                return true;
            if (!repo.HasObject(new ObjectName(cur, ObjectType.Commit)))
                return false;
            c = repo.ReadCommit(cur).Parent;
        }
        return false;
    }

    private static string Describe(Checksum? c) => c?.ToString() ?? "(absent)";

    [LoggerMessage(Level = LogLevel.Information, Message = "Repository {Repo}: ref {Ref} moved from {Old} to {New}")]
    private static partial void LogRefMoved(ILogger logger, string repo, string @ref, string old, string @new);
}
