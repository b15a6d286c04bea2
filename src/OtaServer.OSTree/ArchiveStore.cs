namespace OtaServer.OSTree;

/// <summary>
/// Where the files of an archive repository live, addressed by key: the repository-relative path with '/'
/// separators (<c>objects/ab/cdef….filez</c>, <c>refs/heads/main</c>, <c>summary</c>). The read side of the
/// storage seam: <see cref="ArchiveRepository"/> reads through it, so the format code never builds a file path.
/// </summary>
public interface IArchiveStore
{
    /// <summary>True if a file is stored under <paramref name="key"/>.</summary>
    bool Exists(string key);

    /// <summary>Opens the file for reading, or null if there is none under <paramref name="key"/>.</summary>
    Stream? OpenRead(string key);

    /// <summary>Keys of every file under <paramref name="prefix"/> (a folder key ending in '/', or "" for all), at any depth,
    /// in no particular order. Writers' temporary files (names starting with '.') are not listed.</summary>
    IEnumerable<string> List(string prefix);
}

/// <summary><see cref="IArchiveStore"/> over a folder of the local file system.</summary>
public class LocalArchiveStore : IArchiveStore
{
    public LocalArchiveStore(string root)
    {
        ArgumentException.ThrowIfNullOrEmpty(root);
        Root = Path.GetFullPath(root);
    }

    /// <summary>The folder, absolute.</summary>
    public string Root { get; }

    /// <summary>The file a key names. Keys come from the repository layout, never from a request: the request's path
    /// went through the path guard first.</summary>
    public string PathOf(string key) => key.Length == 0 ? Root : string.Concat(Root, "/", key);

    public bool Exists(string key) => File.Exists(PathOf(key));

    public Stream? OpenRead(string key)
    {
        try
        {
            return new FileStream(PathOf(key), FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 4096, FileOptions.SequentialScan);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
    }

    public IEnumerable<string> List(string prefix)
    {
        var folder = PathOf(prefix.TrimEnd('/'));
        if (!Directory.Exists(folder))
            yield break;
        foreach (var file in Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories))
        {
            var key = file.Length > Root.Length ? file[(Root.Length + 1)..].Replace(Path.DirectorySeparatorChar, '/') : "";
            if (key.Length > 0 && !key.Split('/').Any(s => s.StartsWith('.')))
                yield return key;
        }
    }
}
