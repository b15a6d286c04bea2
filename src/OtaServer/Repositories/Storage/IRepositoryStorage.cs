using OtaServer.OSTree;

namespace OtaServer.Repositories.Storage;

/// <summary>What a create-only write found.</summary>
public enum PutOutcome
{
    /// <summary>The key was free; the file is stored now.</summary>
    Created,
    /// <summary>Something was already stored under the key; it is unchanged (content-addressed names: the same bytes).</summary>
    AlreadyExists,
}

/// <summary>A stored file opened for reading: its size and time, and reads at any offset (for ranges and hashing).</summary>
public interface IStoredFile : IDisposable
{
    long Length { get; }

    DateTimeOffset LastModified { get; }

    /// <summary>Reads up to <c>buffer.Length</c> bytes at <paramref name="offset"/>; 0 at the end.</summary>
    int ReadAt(Span<byte> buffer, long offset);
}

/// <summary>
/// The storage seam beneath <see cref="Repository"/>: the only code that touches where a repository's files live.
/// Keys are repository-relative, '/'-separated, made by <see cref="Repository"/> from the archive layout (never taken
/// from a request unchecked). Immutable files (objects, delta folders) are written create-only; mutable ones (refs,
/// summary, config, delta indexes, markers) are replaced atomically, so a reader sees the old bytes or the new, never
/// a mix. The local folder is the first implementation; an object store fits the same contract.
/// </summary>
public interface IRepositoryStorage : IArchiveStore
{
    /// <summary>For logs and messages: where the files are.</summary>
    string Location { get; }

    /// <summary>Opens a file for positional reads, or null if there is none under <paramref name="key"/>.</summary>
    IStoredFile? Open(string key);

    /// <summary>Stores <paramref name="content"/> under <paramref name="key"/> unless something is there already.</summary>
    PutOutcome PutImmutable(string key, ReadOnlySpan<byte> content);

    /// <summary>Stores a finished file made in a <see cref="CreateScratchFolder"/> under <paramref name="key"/>, create-only.
    /// The scratch file is consumed either way.</summary>
    PutOutcome PutImmutableFile(string key, string scratchFile);

    /// <summary>Stores every file of a finished scratch folder under the folder key <paramref name="key"/>, all or nothing,
    /// create-only. The scratch folder is consumed when Created.</summary>
    PutOutcome PutImmutableFolder(string key, string scratchFolder);

    /// <summary>Replaces (or creates) the file under <paramref name="key"/> atomically and durably.</summary>
    void Replace(string key, ReadOnlySpan<byte> content);

    /// <summary>Deletes one file; false if there was none.</summary>
    bool Delete(string key);

    /// <summary>Deletes every file under the folder key <paramref name="key"/>, unlisting them all at once first where the
    /// backend can. False if there was nothing.</summary>
    bool DeleteFolder(string key);

    /// <summary>A new, empty, local folder for work in progress (uploads, delta generation); never served, and removed by
    /// <see cref="RemoveLeftovers"/> if its writer dies. <paramref name="purpose"/> prefixes its name.</summary>
    string CreateScratchFolder(string purpose);

    /// <summary>Removes what writers that died left behind (scratch folders, temporary files of replacements); returns how
    /// many. Call only when no writer runs (at start).</summary>
    int RemoveLeftovers();
}
