using OtaServer.OSTree;

namespace OtaServer.Repositories;

/// <summary><see cref="IRepositoryContent"/> over the served repositories.</summary>
internal sealed class RepositoryContent(RepositoryRegistry registry) : IRepositoryContent
{
    public bool CommitExists(string repository, string commit) =>
        registry.TryGet(repository, out var repo) && Checksum.TryParse(commit, out var c) &&
        repo.HasObject(new ObjectName(c, ObjectType.Commit));

    public IReadOnlyList<string> FindMissingObjects(string repository, string commit)
    {
        if (!registry.TryGet(repository, out var repo) || !Checksum.TryParse(commit, out var c))
            return [commit + ".commit"];
        return repo.Reader.WalkCommit(c).Missing.Select(m => m.ToString()).ToList();
    }

    public string? ResolveRef(string repository, string refName) =>
        registry.TryGet(repository, out var repo) ? repo.Reader.ResolveRef(refName)?.ToString() : null;
}
