using System.Security.Cryptography;
using OtaServer.Ingest;
using OtaServer.OSTree;
using OtaServer.Tests.Infrastructure;

namespace OtaServer.Tests.Ingest;

public sealed class LooseObjectWriterTests : IDisposable
{
    private readonly TempDirectory _repo = new("loose-writer");

    public LooseObjectWriterTests() => Directory.CreateDirectory(_repo.Combine("tmp"));

    public void Dispose() => _repo.Dispose();

    private static ObjectName RandomName() =>
        ObjectName.Parse(Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32)) + ".dirtree");

    [Theory]
    [InlineData(true)]  // O_TMPFILE + linkat
    [InlineData(false)] // named temporary file in tmp/ + create-only rename
    public void TryCreate_WritesTheBytesOnce_WithMode644_AndRefusesAnExistingName(bool useTmpFile)
    {
        var writer = new LooseObjectWriter(_repo.Path, useTmpFile);
        var name = RandomName();
        var bytes = RandomNumberGenerator.GetBytes(5000);
        Assert.True(writer.TryCreate(name, bytes));
        var path = _repo.Combine(name.RelativePath);
        Assert.Equal(bytes, File.ReadAllBytes(path));
        // rw-r--r-- (under the usual umask 022), like the objects ostree writes: readable by another web server.
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead, File.GetUnixFileMode(path));

        Assert.False(writer.TryCreate(name, RandomNumberGenerator.GetBytes(10)));
        Assert.Equal(bytes, File.ReadAllBytes(path));
        Assert.Empty(Directory.EnumerateFileSystemEntries(_repo.Combine("tmp")));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void ConcurrentWriters_OfOneName_CreateItExactlyOnce(bool useTmpFile)
    {
        var name = RandomName();
        var bytes = RandomNumberGenerator.GetBytes(20_000);
        var created = 0;
        Parallel.For(0, 16, new ParallelOptions { MaxDegreeOfParallelism = 8 }, _ =>
        {
            if (new LooseObjectWriter(_repo.Path, useTmpFile).TryCreate(name, bytes))
                Interlocked.Increment(ref created);
        });
        Assert.Equal(1, created);
        Assert.Equal(bytes, File.ReadAllBytes(_repo.Combine(name.RelativePath)));
        Assert.Single(Directory.EnumerateFiles(_repo.Combine("objects"), "*", SearchOption.AllDirectories));
        Assert.Empty(Directory.EnumerateFileSystemEntries(_repo.Combine("tmp")));
    }

    [Fact]
    public void PublishFile_MovesAVerifiedFile_OrDropsItWhenTheNameExists()
    {
        var writer = new LooseObjectWriter(_repo.Path);
        var name = RandomName();
        var first = _repo.Combine("tmp", "a");
        var second = _repo.Combine("tmp", "b");
        File.WriteAllBytes(first, [1, 2, 3]);
        File.WriteAllBytes(second, [4, 5, 6]);
        Assert.True(writer.PublishFile(first, name));
        Assert.False(writer.PublishFile(second, name));
        Assert.Equal([1, 2, 3], File.ReadAllBytes(_repo.Combine(name.RelativePath)));
        Assert.False(File.Exists(first));
        Assert.False(File.Exists(second));
    }
}
