using System.Text;

namespace OtaServer.Tests.Infrastructure;

/// <summary>Generates source trees for commits and compares checkouts with them.</summary>
public static class TestTrees
{
    /// <summary>
    /// A tree with regular files, an executable, a symlink, an empty file, a file with a user xattr
    /// and nested folders. <paramref name="version"/> changes some contents.
    /// </summary>
    public static void Write(string root, int version, int extraFiles = 0)
    {
        Directory.CreateDirectory(Path.Combine(root, "etc"));
        Directory.CreateDirectory(Path.Combine(root, "usr/lib/nested/deeper"));
        Directory.CreateDirectory(Path.Combine(root, "usr/bin"));
        File.WriteAllText(Path.Combine(root, "etc/motd"), $"Welcome to v{version}\n");
        File.WriteAllText(Path.Combine(root, "etc/os-release"), "NAME=TestOS\nVERSION_ID=" + version + "\n");
        File.WriteAllBytes(Path.Combine(root, "etc/empty"), []);
        var tool = Path.Combine(root, "usr/bin/tool");
        File.WriteAllText(tool, "#!/bin/sh\necho tool v" + version + "\n");
        File.SetUnixFileMode(tool, (UnixFileMode)0b111_101_101);
        var link = Path.Combine(root, "usr/bin/tool-link");
        if (!File.Exists(link))
            File.CreateSymbolicLink(link, "tool");
        // A larger binary-ish file that changes a little between versions.
        var big = new byte[300_000];
        new Random(42).NextBytes(big);
        Encoding.ASCII.GetBytes($"version {version}").CopyTo(big, 1000);
        File.WriteAllBytes(Path.Combine(root, "usr/lib/nested/deeper/libbig.so"), big);
        var withXattr = Path.Combine(root, "etc/labelled");
        File.WriteAllText(withXattr, "has an xattr\n");
        SetXattr(withXattr, "user.test", "xattr-value");
        for (var i = 0; i < extraFiles; i++)
            File.WriteAllText(Path.Combine(root, "usr/lib", $"extra-{i}.txt"), $"extra {i} v{version}\n");
        if (version >= 2)
        {
            Directory.CreateDirectory(Path.Combine(root, "opt/new"));
            File.WriteAllText(Path.Combine(root, "opt/new/added.txt"), "added in v" + version + "\n");
        }
    }

    public static void SetXattr(string path, string name, string value) => OstreeCli.SetXattr(path, name, value);

    /// <summary>Asserts both trees have the same files, symlink targets, executable bits and contents.</summary>
    public static void AssertEqual(string expected, string actual)
    {
        var e = Snapshot(expected);
        var a = Snapshot(actual);
        Assert.Equal(e.Keys.Order(StringComparer.Ordinal), a.Keys.Order(StringComparer.Ordinal));
        foreach (var (path, desc) in e)
            Assert.True(desc == a[path], $"{path}: expected {desc}, got {a[path]}");
    }

    private static Dictionary<string, string> Snapshot(string root)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var entry in new DirectoryInfo(root).EnumerateFileSystemInfos("*", SearchOption.AllDirectories))
        {
            var rel = Path.GetRelativePath(root, entry.FullName);
            if (entry.LinkTarget is { } target)
            {
                result[rel] = "link:" + target;
            }
            else if (entry is DirectoryInfo)
            {
                result[rel] = "dir";
            }
            else
            {
                var exec = (entry.UnixFileMode & UnixFileMode.UserExecute) != 0;
                result[rel] = $"file:{exec}:{Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(entry.FullName)))}";
            }
        }
        return result;
    }
}
