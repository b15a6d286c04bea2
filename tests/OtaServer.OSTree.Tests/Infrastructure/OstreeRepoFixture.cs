using System.Text;

namespace OtaServer.OSTree.Tests.Infrastructure;

/// <summary>
/// One archive repository written by the real ostree CLI, shared (read-only) by the interop tests:
/// two commits on "os/x86_64/stable" (the second owned by uid/gid 1000, with a parent), one on "main",
/// detached metadata, a from→to delta and a from-scratch delta, and a summary from <c>ostree summary -u</c>.
/// The tree has regular files, an executable, a symlink, an empty file, nested directories, a 300 KiB file and,
/// when the filesystem allows user xattrs (set through libc; setfattr is not installed), a file with an xattr.
/// </summary>
public sealed class OstreeRepoFixture : IDisposable
{
    public const string StableRef = "os/x86_64/stable";
    public const string MainRef = "main";

    private readonly TempDirectory _dir = new();

    public OstreeRepoFixture()
    {
        RepoPath = _dir.Combine("repo");
        var tree = _dir.Combine("tree");
        Directory.CreateDirectory(Path.Combine(tree, "bin"));
        Directory.CreateDirectory(Path.Combine(tree, "etc"));
        Directory.CreateDirectory(Path.Combine(tree, "a", "b", "c"));
        File.WriteAllText(Path.Combine(tree, "README"), "Hello from the format tests\n");
        File.WriteAllText(Path.Combine(tree, "bin", "tool"), "#!/bin/sh\necho tool\n");
        File.SetUnixFileMode(Path.Combine(tree, "bin", "tool"), (UnixFileMode)0x1ED);
        File.CreateSymbolicLink(Path.Combine(tree, "bin", "link"), "tool");
        File.WriteAllBytes(Path.Combine(tree, "empty"), []);
        File.WriteAllText(Path.Combine(tree, "a", "b", "c", "deep.txt"), "deep\n");
        var big = new byte[300 * 1024];
        for (int i = 0; i < big.Length; i++)
            big[i] = (byte)((i * 7 + i / 1000) % 251);
        File.WriteAllBytes(Path.Combine(tree, "big.bin"), big);
        var xattrFile = Path.Combine(tree, "etc", "xattr.conf");
        File.WriteAllText(xattrFile, "Welcome to v2!\n");
        HasXattr = OstreeCli.TrySetXattr(xattrFile, "user.test", Encoding.UTF8.GetBytes("xattr-value"));

        OstreeCli.Run("init", "--repo=" + RepoPath, "--mode=archive");
        OstreeCli.Run("commit", "--repo=" + RepoPath, "-b", StableRef, "--timestamp=2024-01-02T03:04:05Z",
            "--add-metadata-string=version=1.0", "-s", "first", "--body", "the first commit", tree);
        File.WriteAllText(Path.Combine(tree, "README"), "Hello again\n");
        File.WriteAllText(Path.Combine(tree, "a", "new.txt"), "new\n");
        OstreeCli.Run("commit", "--repo=" + RepoPath, "-b", StableRef, "--owner-uid=1000", "--owner-gid=1000",
            "--add-metadata-string=version=2.0", "--add-detached-metadata-string=example.sig=signature-bytes",
            "-s", "second", tree);
        OstreeCli.Run("commit", "--repo=" + RepoPath, "-b", MainRef, "-s", "main", tree);
        OstreeCli.Run("static-delta", "generate", "--repo=" + RepoPath, StableRef);
        OstreeCli.Run("static-delta", "generate", "--repo=" + RepoPath, "--empty", MainRef);
        OstreeCli.Run("summary", "-u", "--repo=" + RepoPath);
        Repo = new ArchiveRepository(RepoPath);
        Stable = Repo.ResolveRef(StableRef)!.Value;
        StableParent = Repo.ReadCommit(Stable).Parent!.Value;
        Main = Repo.ResolveRef(MainRef)!.Value;
    }

    public string RepoPath { get; }

    public ArchiveRepository Repo { get; }

    public bool HasXattr { get; }

    public Checksum Stable { get; }

    public Checksum StableParent { get; }

    public Checksum Main { get; }

    /// <summary>Every object file in the repository.</summary>
    public IEnumerable<(ObjectName Name, string Path)> AllObjects() =>
        Directory.EnumerateFiles(Path.Combine(RepoPath, "objects"), "*", SearchOption.AllDirectories)
            .Select(p => (ObjectName.TryParseRelativePath(p, out var n) ? n : throw new InvalidOperationException("unexpected file " + p), p));

    /// <summary>Copies the repository to a fresh folder a test may modify.</summary>
    public string CopyRepo(TempDirectory into)
    {
        var dest = into.Combine("repo");
        foreach (var dir in Directory.EnumerateDirectories(RepoPath, "*", SearchOption.AllDirectories))
            Directory.CreateDirectory(Path.Combine(dest, Path.GetRelativePath(RepoPath, dir)));
        foreach (var file in Directory.EnumerateFiles(RepoPath, "*", SearchOption.AllDirectories))
            File.Copy(file, Path.Combine(dest, Path.GetRelativePath(RepoPath, file)));
        return dest;
    }

    public void Dispose() => _dir.Dispose();
}
