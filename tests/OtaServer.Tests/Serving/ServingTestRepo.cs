using System.Security.Cryptography;
using OtaServer.OSTree;
using OtaServer.Serving;
using OtaServer.Tests.Infrastructure;

namespace OtaServer.Tests.Serving;

/// <summary>Writes synthetic files into a factory's repository (the origin serves bytes; it does not parse them).</summary>
internal static class ServingTestRepo
{
    public const string Canary = "CANARY-d41d8cd98f00b204e9800998ecf8427e";

    public static string Write(OtaServerFactory factory, string relativePath, byte[] content)
    {
        var full = Path.Combine(factory.RepoRoot(), relativePath);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        File.WriteAllBytes(full, content);
        return full;
    }

    public static byte[] RandomBytes(int length) => RandomNumberGenerator.GetBytes(length);

    public static string RandomChecksum() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));

    public static string ObjectPath(string checksum, string type) => $"objects/{checksum[..2]}/{checksum[2..]}.{type}";

    /// <summary>The scratch delta folder of <paramref name="toChecksum"/>: <c>deltas/T[0:2]/T[2:]</c>.</summary>
    public static string ScratchDeltaFolder(string toChecksum)
    {
        return new DeltaName(null, Checksum.Parse(toChecksum)).RelativeDirectory;
    }

    /// <summary>The from→to delta folder: <c>deltas/F[0:2]/F[2:]-T</c>.</summary>
    public static string DeltaFolder(string fromChecksum, string toChecksum)
    {
        return new DeltaName(Checksum.Parse(fromChecksum), Checksum.Parse(toChecksum)).RelativeDirectory;
    }

    /// <summary>A fake delta (superblock + <paramref name="parts"/> part files) in <paramref name="folder"/>.</summary>
    public static void WriteDelta(OtaServerFactory factory, string folder, int parts, int partSize = 4096)
    {
        Write(factory, folder + "/superblock", RandomBytes(300));
        for (var i = 0; i < parts; i++)
            Write(factory, $"{folder}/{i}", RandomBytes(partSize));
    }

    /// <summary>Files that must never be served, each holding the canary, inside and outside the repository.</summary>
    public static void WriteCanaries(OtaServerFactory factory)
    {
        var canary = System.Text.Encoding.ASCII.GetBytes(Canary);
        File.WriteAllBytes(Path.Combine(factory.DataDir, "canary"), canary);
        File.WriteAllBytes(Path.Combine(factory.DataDir, "repos", "canary"), canary);
        foreach (var internalFile in new[]
                 {
                     "tmp/secret", "state/secret", "extensions/secret", ".lock", ".secret", "objects/ab/.tmp-secret",
                     "refs/remotes/origin/secret", "objects/secret", "secret",
                 })
        {
            Write(factory, internalFile, canary);
        }
    }
}
