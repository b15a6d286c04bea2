using OtaServer.OSTree;

namespace OtaServer.Ingest;

/// <summary>
/// OSTree's mark for a commit stored before all of its objects (<c>state/&lt;commit&gt;.commitpartial</c>, empty):
/// <c>ostree fsck</c> skips such commits instead of reporting corruption, as it does for an interrupted pull.
/// </summary>
internal static class PartialCommits
{
    private static string PathOf(string repoRoot, Checksum commit) => Path.Combine(repoRoot, "state", commit + ".commitpartial");

    public static void Mark(string repoRoot, Checksum commit)
    {
        Directory.CreateDirectory(Path.Combine(repoRoot, "state"));
        try
        {
            using var _ = new FileStream(PathOf(repoRoot, commit), FileMode.CreateNew, FileAccess.Write);
        }
        catch (IOException) when (File.Exists(PathOf(repoRoot, commit)))
        {
        }
    }

    /// <summary>The commit is complete now (checked by the caller).</summary>
    public static void Clear(string repoRoot, Checksum commit)
    {
        var path = PathOf(repoRoot, commit);
        if (File.Exists(path))
            File.Delete(path);
    }
}
