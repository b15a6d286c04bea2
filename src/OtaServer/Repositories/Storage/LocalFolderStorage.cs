using Microsoft.Win32.SafeHandles;
using OtaServer.OSTree;

namespace OtaServer.Repositories.Storage;

/// <summary>
/// <see cref="IRepositoryStorage"/> in a folder of the local file system (the embedded default). Objects are created
/// with <see cref="LooseObjectWriter"/> (O_TMPFILE + linkat), other immutable files and folders with a create-only
/// rename (<see cref="AtomicRename"/>); replacements go to a temporary file beside the target, flushed, then renamed
/// over it. Work in progress lives under <c>tmp/</c>, which the path guard never serves.
/// </summary>
internal sealed class LocalFolderStorage : LocalArchiveStore, IRepositoryStorage
{
    /// <summary>Folder inside the repository where uploads and delta generation stage files. Never served.</summary>
    public const string StagingFolder = "tmp";

    /// <summary>Scratch-folder prefixes of the writers, removed by <see cref="RemoveLeftovers"/>.</summary>
    private static readonly string[] ScratchPrefixes = ["delta-", "trash-", "ingest-"];

    private readonly LooseObjectWriter _objects;

    /// <summary>The folders ostree's own tools expect in a repository (they refuse one without objects/), made at open.</summary>
    private static readonly string[] Folders = ["objects", "refs/heads", "refs/mirrors", "refs/remotes", "deltas", "delta-indexes", "state", StagingFolder];

    public LocalFolderStorage(string root, bool useTmpFile = true) : base(root)
    {
        foreach (var folder in Folders)
            Directory.CreateDirectory(PathOf(folder));
        _objects = new LooseObjectWriter(Root, useTmpFile);
    }

    public string Location => Root;

    public IStoredFile? Open(string key)
    {
        var path = PathOf(key);
        try
        {
            return new LocalStoredFile(File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete));
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
        catch (UnauthorizedAccessException) when (Directory.Exists(path))
        {
            return null; // a folder is not a file
        }
        catch (IOException) when (!File.Exists(path))
        {
            return null; // gone, or a folder
        }
    }

    public PutOutcome PutImmutable(string key, ReadOnlySpan<byte> content)
    {
        if (AsObject(key) is { } name)
            return _objects.TryCreate(name, content) ? PutOutcome.Created : PutOutcome.AlreadyExists;
        var scratch = PathOf(StagingFolder + "/object-" + Guid.NewGuid().ToString("N"));
        try
        {
            using (var output = new FileStream(scratch, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1))
            {
                output.Write(content);
                output.Flush(flushToDisk: true);
            }
        }
        catch
        {
            TryDeleteFile(scratch);
            throw;
        }
        return PutImmutableFile(key, scratch);
    }

    public PutOutcome PutImmutableFile(string key, string scratchFile)
    {
        if (AsObject(key) is { } name)
            return _objects.PublishFile(scratchFile, name) ? PutOutcome.Created : PutOutcome.AlreadyExists;
        var final = PathOf(key);
        Directory.CreateDirectory(Path.GetDirectoryName(final)!);
        if (AtomicRename.TryMoveNoReplace(scratchFile, final))
            return PutOutcome.Created;
        File.Delete(scratchFile);
        return PutOutcome.AlreadyExists;
    }

    public PutOutcome PutImmutableFolder(string key, string scratchFolder)
    {
        foreach (var file in Directory.EnumerateFiles(scratchFolder, "*", SearchOption.AllDirectories))
        {
            using var fs = new FileStream(file, FileMode.Open, FileAccess.ReadWrite);
            fs.Flush(flushToDisk: true);
        }
        var final = PathOf(key.TrimEnd('/'));
        Directory.CreateDirectory(Path.GetDirectoryName(final)!);
        return AtomicRename.TryMoveNoReplace(scratchFolder, final) ? PutOutcome.Created : PutOutcome.AlreadyExists;
    }

    public void Replace(string key, ReadOnlySpan<byte> content)
    {
        var final = PathOf(key);
        var dir = Path.GetDirectoryName(final)!;
        Directory.CreateDirectory(dir);
        // The dot name keeps it out of List and of the served layout; RemoveLeftovers finds it after a kill.
        var temp = Path.Combine(dir, "." + Path.GetFileName(final) + ".tmp-" + Guid.NewGuid().ToString("N"));
        try
        {
            using (var fs = new FileStream(temp, FileMode.CreateNew, FileAccess.Write))
            {
                fs.Write(content);
                fs.Flush(flushToDisk: true);
            }
            File.Move(temp, final, overwrite: true);
        }
        catch
        {
            // A full disk or an I/O error: the old file stays as it was, and no temporary file is left behind.
            TryDeleteFile(temp);
            throw;
        }
    }

    public bool Delete(string key)
    {
        var path = PathOf(key);
        if (!File.Exists(path))
            return false;
        File.Delete(path);
        return true;
    }

    public bool DeleteFolder(string key)
    {
        var dir = PathOf(key.TrimEnd('/'));
        if (!Directory.Exists(dir))
            return false;
        // Out of the served tree first, in one rename, so no client sees a half-deleted folder.
        var trash = CreateScratchPath("trash-");
        Directory.Move(dir, trash);
        Directory.Delete(trash, recursive: true);
        return true;
    }

    public string CreateScratchFolder(string purpose) => Directory.CreateDirectory(CreateScratchPath(purpose)).FullName;

    private string CreateScratchPath(string purpose) => PathOf(StagingFolder + "/" + purpose + Guid.NewGuid().ToString("N"));

    public int RemoveLeftovers()
    {
        var removed = 0;
        var staging = PathOf(StagingFolder);
        if (Directory.Exists(staging))
        {
            foreach (var prefix in ScratchPrefixes)
            {
                foreach (var dir in Directory.EnumerateDirectories(staging, prefix + "*"))
                    removed += TryDeleteDirectory(dir);
            }

            foreach (var file in Directory.EnumerateFiles(staging, "object-*"))
                removed += TryDeleteFile(file);
        }
        foreach (var folder in new[] { "", "refs", "delta-indexes", "deltas" })
        {
            var dir = PathOf(folder);
            if (!Directory.Exists(dir))
                continue;
            var option = folder.Length == 0 ? SearchOption.TopDirectoryOnly : SearchOption.AllDirectories;
            foreach (var file in Directory.EnumerateFiles(dir, ".*.tmp-*", option))
                removed += TryDeleteFile(file);
        }
        return removed;
    }

    /// <summary>The object a key names, when it is an object key (<c>objects/XX/….type</c>).</summary>
    private static ObjectName? AsObject(string key) =>
        key.StartsWith("objects/", StringComparison.Ordinal) && ObjectName.TryParseRelativePath(key, out var name) && name.RelativePath == key
            ? name
            : null;

    private static int TryDeleteDirectory(string path)
    {
        try { Directory.Delete(path, recursive: true); return 1; }
        catch (IOException) { return 0; }
        catch (UnauthorizedAccessException) { return 0; }
    }

    private static int TryDeleteFile(string path)
    {
        try { File.Delete(path); return 1; }
        catch (IOException) { return 0; }
        catch (UnauthorizedAccessException) { return 0; }
    }

    private sealed class LocalStoredFile(SafeFileHandle handle) : IStoredFile
    {
        public long Length { get; } = RandomAccess.GetLength(handle);

        public DateTimeOffset LastModified { get; } = File.GetLastWriteTimeUtc(handle);

        public int ReadAt(Span<byte> buffer, long offset) => RandomAccess.Read(handle, buffer, offset);

        public void Dispose() => handle.Dispose();
    }
}
