using Microsoft.Extensions.DependencyInjection;
using OtaServer.Serving;
using OtaServer.Tests.Infrastructure;

namespace OtaServer.Tests.Serving;

/// <summary>The real 2022.7 client pulls from the origin: an archive repository made with the ostree CLI.</summary>
public sealed class OstreePullInteropTests
{
    private static void WriteTree(string root, string salt)
    {
        Directory.CreateDirectory(Path.Combine(root, "usr", "bin"));
        Directory.CreateDirectory(Path.Combine(root, "etc"));
        File.WriteAllText(Path.Combine(root, "etc", "os-release"), "NAME=test " + salt + "\n");
        File.WriteAllBytes(Path.Combine(root, "usr", "bin", "tool"), ServingTestRepo.RandomBytes(200_000));
        for (var i = 0; i < 40; i++)
            File.WriteAllText(Path.Combine(root, "usr", $"file{i}.txt"), $"{salt} file {i}\n");
        var link = Path.Combine(root, "usr", "link");
        File.Delete(link);
        File.CreateSymbolicLink(link, salt == "v1" ? "bin/tool" : "file0.txt");
    }

    [Fact]
    public async Task OstreePull_ObjectsFromOrigin_PassesFsck()
    {
        using var factory = new OtaServerFactory();
        var address = factory.StartKestrel();
        using var tree = new TempDirectory();
        WriteTree(tree.Path, "v1");
        var repo = factory.RepoRoot();
        var commit = OstreeCli.Run($"--repo={repo}", "commit", "-b", "main", $"--tree=dir={tree.Path}").Trim();
        OstreeCli.Run($"--repo={repo}", "summary", "-u");

        using var client = new TempDirectory("ota-client");
        OstreeCli.Run("init", "--mode=bare-user", $"--repo={client.Path}");
        OstreeCli.Run($"--repo={client.Path}", "remote", "add", "--no-gpg-verify", "r", new Uri(address, "repos/main").ToString());
        OstreeCli.Run($"--repo={client.Path}", "pull", "r", "main");
        OstreeCli.Run($"--repo={client.Path}", "fsck");
        Assert.Equal(commit, OstreeCli.Run($"--repo={client.Path}", "rev-parse", "r:main").Trim());
        await Task.CompletedTask;
    }

    [Fact]
    public async Task OstreePull_StaticDeltaFromOrigin_PassesFsckAndHoldsCommitMeta()
    {
        using var factory = new OtaServerFactory(new Dictionary<string, string?>
        {
            ["OtaServer:Serving:CommitMetaGrace"] = "00:00:00.2",
        });
        var address = factory.StartKestrel();
        using var tree = new TempDirectory();
        WriteTree(tree.Path, "v1");
        var repo = factory.RepoRoot();
        OstreeCli.Run($"--repo={repo}", "commit", "-b", "main", $"--tree=dir={tree.Path}");
        WriteTree(tree.Path, "v2");
        var v2 = OstreeCli.Run($"--repo={repo}", "commit", "-b", "main", $"--tree=dir={tree.Path}").Trim();
        OstreeCli.Run($"--repo={repo}", "static-delta", "generate", "--empty", "main");
        OstreeCli.Run($"--repo={repo}", "summary", "-u");

        using var client = new TempDirectory("ota-client");
        OstreeCli.Run("init", "--mode=bare-user", $"--repo={client.Path}");
        OstreeCli.Run($"--repo={client.Path}", "remote", "add", "--no-gpg-verify", "r", new Uri(address, "repos/main").ToString());
        var output = OstreeCli.Run($"--repo={client.Path}", "pull", "r", "main");
        Assert.Contains("delta parts", output);
        OstreeCli.Run($"--repo={client.Path}", "fsck");
        Assert.Equal(v2, OstreeCli.Run($"--repo={client.Path}", "rev-parse", "r:main").Trim());
        var stats = factory.Services.GetRequiredService<DeltaDownloadTracker>().Statistics;
        Assert.Equal(1, stats.Held);
        Assert.Equal(1, stats.ReleasedComplete);
        await Task.CompletedTask;
    }
}
