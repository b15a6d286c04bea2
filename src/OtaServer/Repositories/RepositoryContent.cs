using OtaServer.OSTree;

namespace OtaServer.Repositories;

/// <summary><see cref="IRepositoryContent"/> over the archive repositories on disk.</summary>
internal sealed class RepositoryContent(RepositoryRegistry registry) : IRepositoryContent
{
    public bool CommitExists(string repository, string commit) =>
        TryOpen(repository, out var repo) && Checksum.TryParse(commit, out var c) &&
        repo.HasObject(new ObjectName(c, ObjectType.Commit));

    public IReadOnlyList<string> FindMissingObjects(string repository, string commit)
    {
        if (!TryOpen(repository, out var repo) || !Checksum.TryParse(commit, out var c))
            return [commit + ".commit"];
        return repo.WalkCommit(c).Missing.Select(m => m.ToString()).ToList();
    }

    public string? ResolveRef(string repository, string refName) =>
        TryOpen(repository, out var repo) ? repo.ResolveRef(refName)?.ToString() : null;

    private bool TryOpen(string repository, out ArchiveRepository repo)
    {
        if (registry.TryGetRoot(repository, out var root))
        {
            repo = new ArchiveRepository(root);
            return true;
        }
        repo = null!;
        return false;
    }
}
