using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using IOMode = System.IO.UnixFileMode;

namespace OtaServer.OSTree.Tests.StaticDeltas;

/// <summary>Commits made with the real ostree CLI.</summary>
internal static class TestCommits
{
    /// <summary>Commits a folder into an archive repo (owned by root, as an OS image would be) and returns the checksum.</summary>
    public static Checksum Commit(string repo, string tree, string branch, string subject) =>
        Checksum.Parse(OstreeCli.Run($"--repo={repo}", "commit", $"--branch={branch}", $"--subject={subject}",
            "--owner-uid=0", "--owner-gid=0", $"--tree=dir={tree}").Trim());
}

/// <summary>Builds file trees with deterministic pseudo-random content.</summary>
internal static class TreeBuilder
{
    public static byte[] RandomBytes(int seed, int length)
    {
        var data = new byte[length];
        new Random(seed).NextBytes(data);
        return data;
    }

    /// <summary>Compressible text-like bytes (so parts compress and rollsum still finds boundaries).</summary>
    public static byte[] TextBytes(int seed, int length)
    {
        var rng = new Random(seed);
        var words = new[] { "alpha", "beta", "gamma", "delta", "kernel", "module", "config", "static", "update", "device", "\n" };
        var sb = new StringBuilder(length + 16);
        while (sb.Length < length)
        {
            sb.Append(words[rng.Next(words.Length)]).Append(' ').Append(rng.Next(100000));
            sb.Append(' ');
        }

        return Encoding.ASCII.GetBytes(sb.ToString(0, length));
    }

    public static void Write(string root, string relative, byte[] data, IOMode mode = IOMode.UserRead | IOMode.UserWrite | IOMode.GroupRead | IOMode.OtherRead)
    {
        var path = Path.Combine(root, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, data);
        File.SetUnixFileMode(path, mode);
    }

    public const IOMode Executable = IOMode.UserRead | IOMode.UserWrite | IOMode.UserExecute |
        IOMode.GroupRead | IOMode.GroupExecute | IOMode.OtherRead | IOMode.OtherExecute;

    public static void Symlink(string root, string relative, string target)
    {
        var path = Path.Combine(root, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.CreateSymbolicLink(path, target);
    }

    /// <summary>Asserts that two trees have the same names, file types, contents, symlink targets and executable bits.</summary>
    public static void AssertSameTree(string expected, string actual)
    {
        var e = Listing(expected);
        var a = Listing(actual);
        Assert.Equal(e.Keys.Order(StringComparer.Ordinal), a.Keys.Order(StringComparer.Ordinal));
        foreach (var (rel, desc) in e)
            Assert.True(desc == a[rel], $"{rel}: expected {desc}, got {a[rel]}");
    }

    private static Dictionary<string, string> Listing(string root)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var path in Directory.EnumerateFileSystemEntries(root, "*", SearchOption.AllDirectories))
        {
            var rel = Path.GetRelativePath(root, path);
            var fi = new FileInfo(path);
            if (fi.LinkTarget is { } target)
            {
                result[rel] = "link:" + target;
            }
            else if (Directory.Exists(path))
            {
                result[rel] = "dir";
            }
            else
            {
                var exec = (File.GetUnixFileMode(path) & IOMode.UserExecute) != 0;
                result[rel] = $"file:{exec}:{Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(path)))}";
            }
        }

        return result;
    }
}

