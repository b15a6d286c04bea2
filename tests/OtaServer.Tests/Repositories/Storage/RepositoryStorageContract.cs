using System.Security.Cryptography;
using OtaServer.OSTree;
using OtaServer.Repositories.Storage;

namespace OtaServer.Tests.Repositories.Storage;

/// <summary>
/// The contract of the storage seam (<see cref="IRepositoryStorage"/>): every backend runs these tests through a
/// subclass. Nothing here looks at files directly; what a backend must show is visible through the seam alone.
/// </summary>
public abstract class RepositoryStorageContract : IDisposable
{
    protected RepositoryStorageContract()
    {
        Storage = CreateStorage();
    }

    protected IRepositoryStorage Storage { get; }

    protected abstract IRepositoryStorage CreateStorage();

    /// <summary>A second handle on the same stored repository (another writer).</summary>
    protected abstract IRepositoryStorage OpenAgain();

    public abstract void Dispose();

    protected static ObjectName RandomObject(string type = "dirtree") =>
        ObjectName.Parse(Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32)) + "." + type);

    private static byte[] Read(IRepositoryStorage storage, string key)
    {
        using var stream = storage.OpenRead(key) ?? throw new FileNotFoundException(key);
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }

    [Fact]
    public void PutImmutable_OfAnObject_StoresItOnce_AndKeepsTheFirstBytes()
    {
        var name = RandomObject();
        var bytes = RandomNumberGenerator.GetBytes(5000);
        Assert.Equal(PutOutcome.Created, Storage.PutImmutable(name.RelativePath, bytes));
        Assert.Equal(PutOutcome.AlreadyExists, Storage.PutImmutable(name.RelativePath, RandomNumberGenerator.GetBytes(10)));
        Assert.Equal(bytes, Read(Storage, name.RelativePath));
        Assert.True(Storage.Exists(name.RelativePath));
        Assert.Equal([name.RelativePath], Storage.List("objects/"));
    }

    [Fact]
    public void PutImmutable_OfAnyOtherKey_IsCreateOnlyToo()
    {
        Assert.Equal(PutOutcome.Created, Storage.PutImmutable("state/x.commitpartial", []));
        Assert.Equal(PutOutcome.AlreadyExists, Storage.PutImmutable("state/x.commitpartial", [1]));
        using var file = Storage.Open("state/x.commitpartial");
        Assert.Equal(0, file!.Length);
    }

    [Fact]
    public void ConcurrentWriters_OfOneObject_CreateItExactlyOnce()
    {
        var name = RandomObject();
        var bytes = RandomNumberGenerator.GetBytes(20_000);
        var created = 0;
        Parallel.For(0, 16, new ParallelOptions { MaxDegreeOfParallelism = 8 }, i =>
        {
            var writer = i % 2 == 0 ? Storage : OpenAgain();
            if (writer.PutImmutable(name.RelativePath, bytes) == PutOutcome.Created)
                Interlocked.Increment(ref created);
        });
        Assert.Equal(1, created);
        Assert.Equal(bytes, Read(Storage, name.RelativePath));
        Assert.Single(Storage.List("objects/"));
    }

    [Fact]
    public void PutImmutableFile_ConsumesTheScratchFile_AndRefusesAnExistingKey()
    {
        var name = RandomObject("filez");
        var scratch = Storage.CreateScratchFolder("ingest-");
        var first = Path.Combine(scratch, "a");
        var second = Path.Combine(scratch, "b");
        File.WriteAllBytes(first, [1, 2, 3]);
        File.WriteAllBytes(second, [4, 5, 6]);
        Assert.Equal(PutOutcome.Created, Storage.PutImmutableFile(name.RelativePath, first));
        Assert.Equal(PutOutcome.AlreadyExists, Storage.PutImmutableFile(name.RelativePath, second));
        Assert.Equal([1, 2, 3], Read(Storage, name.RelativePath));
        Assert.False(File.Exists(first));
        Assert.False(File.Exists(second));
    }

    [Fact]
    public void PutImmutableFolder_PublishesAllFilesAtOnce_CreateOnly()
    {
        var scratch = Storage.CreateScratchFolder("delta-");
        File.WriteAllBytes(Path.Combine(scratch, "superblock"), [9]);
        File.WriteAllBytes(Path.Combine(scratch, "0"), [1, 2]);
        Assert.Equal(PutOutcome.Created, Storage.PutImmutableFolder("deltas/ab/cd", scratch));
        Assert.Equal(["deltas/ab/cd/0", "deltas/ab/cd/superblock"], Storage.List("deltas/").Order(StringComparer.Ordinal));

        var again = Storage.CreateScratchFolder("delta-");
        File.WriteAllBytes(Path.Combine(again, "superblock"), [7]);
        Assert.Equal(PutOutcome.AlreadyExists, Storage.PutImmutableFolder("deltas/ab/cd", again));
        Assert.Equal([9], Read(Storage, "deltas/ab/cd/superblock"));
    }

    [Fact]
    public void Replace_SwapsTheWholeFile_AndLeavesNoTemporaryFileListed()
    {
        Storage.Replace("refs/heads/main", "a\n"u8);
        Storage.Replace("refs/heads/main", "bb\n"u8);
        Assert.Equal("bb\n"u8.ToArray(), Read(Storage, "refs/heads/main"));
        Assert.Equal(["refs/heads/main"], Storage.List("refs/"));
    }

    [Fact]
    public void Open_ReadsAtAnyOffset_AndIsNullForMissingKeysAndFolders()
    {
        var bytes = RandomNumberGenerator.GetBytes(300_000);
        Storage.Replace("summary", bytes);
        using (var file = Storage.Open("summary"))
        {
            Assert.NotNull(file);
            Assert.Equal(bytes.Length, file.Length);
            var middle = new byte[1000];
            Assert.Equal(1000, file.ReadAt(middle, 200_000));
            Assert.Equal(bytes.AsSpan(200_000, 1000).ToArray(), middle);
            Assert.Equal(0, file.ReadAt(middle, bytes.Length));
            Assert.True(file.LastModified > DateTimeOffset.UtcNow.AddMinutes(-5));
        }
        Assert.Null(Storage.Open("summary.sig"));
        Assert.Null(Storage.OpenRead("summary.sig"));
        Assert.Null(Storage.Open("refs"));
    }

    [Fact]
    public void Delete_AndDeleteFolder_RemoveWhatIsThere_AndSayWhenNothingWas()
    {
        Storage.Replace("deltas/ab/cd/superblock", [1]);
        Storage.Replace("deltas/ab/cd/0", [2]);
        Storage.Replace("summary.sig", [3]);
        Assert.True(Storage.Delete("summary.sig"));
        Assert.False(Storage.Delete("summary.sig"));
        Assert.True(Storage.DeleteFolder("deltas/ab/cd"));
        Assert.False(Storage.DeleteFolder("deltas/ab/cd"));
        Assert.Empty(Storage.List("deltas/"));
    }

    [Fact]
    public void RemoveLeftovers_RemovesScratchFolders_ButNoStoredFile()
    {
        Storage.Replace("config", "[core]\n"u8);
        var name = RandomObject();
        Storage.PutImmutable(name.RelativePath, [1]);
        File.WriteAllBytes(Path.Combine(Storage.CreateScratchFolder("ingest-"), "x"), [1]);
        File.WriteAllBytes(Path.Combine(Storage.CreateScratchFolder("delta-"), "superblock"), [1]);
        Assert.True(Storage.RemoveLeftovers() >= 2);
        Assert.Equal(0, Storage.RemoveLeftovers());
        Assert.Equal(["config", name.RelativePath], Storage.List("").Order(StringComparer.Ordinal));
    }
}

/// <summary>The local folder: objects through O_TMPFILE + linkat.</summary>
public sealed class LocalFolderStorageTests : RepositoryStorageContract
{
    private TempDirectory? _root;

    protected override IRepositoryStorage CreateStorage() => new LocalFolderStorage((_root ??= new TempDirectory("storage")).Path);

    protected override IRepositoryStorage OpenAgain() => new LocalFolderStorage(_root!.Path);

    public override void Dispose() => _root?.Dispose();

    [Fact]
    public void Objects_AreWrittenWithMode644_LikeTheObjectsOstreeWrites()
    {
        var name = RandomObject();
        Storage.PutImmutable(name.RelativePath, [1, 2, 3]);
        // rw-r--r-- (under the usual umask 022): readable by another web server.
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead,
            File.GetUnixFileMode(Path.Combine(_root!.Path, name.RelativePath)));
    }

    [Fact]
    public void AKilledReplacement_LeavesADotFile_ThatIsNotListed_AndRemoveLeftoversTakesIt()
    {
        Storage.Replace("refs/heads/main", "a\n"u8);
        var torn = Path.Combine(_root!.Path, "refs", "heads", ".main.tmp-0123");
        File.WriteAllBytes(torn, [1]);
        Assert.Equal(["refs/heads/main"], Storage.List("refs/"));
        Assert.Equal(1, Storage.RemoveLeftovers());
        Assert.False(File.Exists(torn));
    }
}

/// <summary>The local folder where the file system has no O_TMPFILE: named scratch files and a create-only rename.</summary>
public sealed class LocalFolderStorageWithoutTmpFileTests : RepositoryStorageContract
{
    private TempDirectory? _root;

    protected override IRepositoryStorage CreateStorage() => new LocalFolderStorage((_root ??= new TempDirectory("storage")).Path, useTmpFile: false);

    protected override IRepositoryStorage OpenAgain() => new LocalFolderStorage(_root!.Path, useTmpFile: false);

    public override void Dispose() => _root?.Dispose();
}
