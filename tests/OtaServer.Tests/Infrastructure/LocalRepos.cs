using System.Formats.Tar;

namespace OtaServer.Tests.Infrastructure;

/// <summary>Local archive repositories made with the real ostree CLI, and tars of their objects.</summary>
public static class LocalRepos
{
    /// <summary>Creates an archive repo at <paramref name="repo"/> and commits <paramref name="tree"/> to <paramref name="branch"/>; returns the commit.</summary>
    public static string Commit(string repo, string tree, string branch = "main", string subject = "commit", long? timestamp = null)
    {
        if (!File.Exists(Path.Combine(repo, "config")))
            OstreeCli.Run("init", "--mode=archive", "--repo=" + repo);
        var args = new List<string> { "commit", "--repo=" + repo, "-b", branch, "--subject=" + subject, "--tree=dir=" + tree };
        if (timestamp is { } ts)
            args.Add("--timestamp=" + DateTimeOffset.FromUnixTimeSeconds(ts).ToString("yyyy-MM-dd HH:mm:ss") + " +0000");
        return OstreeCli.Run([.. args]).Trim();
    }

    /// <summary>All object files of a repository as relative paths (objects/XX/….type).</summary>
    public static List<string> ObjectPaths(string repo) =>
        Directory.EnumerateFiles(Path.Combine(repo, "objects"), "*", SearchOption.AllDirectories)
            .Select(p => Path.GetRelativePath(repo, p).Replace('\\', '/'))
            .Order(StringComparer.Ordinal)
            .ToList();

    /// <summary>A plain tar holding the given repository files, optionally under a leading folder.</summary>
    public static byte[] Tar(string repo, IEnumerable<string> relativePaths, string prefix = "")
    {
        using var ms = new MemoryStream();
        using (var tar = new TarWriter(ms, TarEntryFormat.Pax, leaveOpen: true))
        {
            foreach (var rel in relativePaths)
                tar.WriteEntry(Path.Combine(repo, rel), prefix + rel);
        }
        return ms.ToArray();
    }

    public static byte[] Tar(IEnumerable<(string Name, byte[] Data)> entries)
    {
        using var ms = new MemoryStream();
        using (var tar = new TarWriter(ms, TarEntryFormat.Pax, leaveOpen: true))
        {
            foreach (var (name, data) in entries)
                tar.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, name) { DataStream = new MemoryStream(data) });
        }
        return ms.ToArray();
    }
}
