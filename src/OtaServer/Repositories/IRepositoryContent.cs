namespace OtaServer.Repositories;

/// <summary>Questions about what a served repository holds. Checksums are 64 lowercase hex.</summary>
public interface IRepositoryContent
{
    bool CommitExists(string repository, string commit);

    /// <summary>Objects reachable from <paramref name="commit"/> that are absent, as "hex.type" names; empty means complete.</summary>
    IReadOnlyList<string> FindMissingObjects(string repository, string commit);

    /// <summary>The commit a ref points at, or null.</summary>
    string? ResolveRef(string repository, string refName);
}
