using OtaServer.Tests.Infrastructure;

namespace OtaServer.Tests.Serving;

/// <summary>One Kestrel-hosted server with a populated repository, shared by read-only tests.</summary>
public sealed class ServingFixture : IDisposable
{
    public ServingFixture()
    {
        Factory = new OtaServerFactory();
        BaseAddress = Factory.StartKestrel();
        Client = new HttpClient { BaseAddress = BaseAddress };

        ObjectChecksum = ServingTestRepo.RandomChecksum();
        ObjectPath = ServingTestRepo.ObjectPath(ObjectChecksum, "filez");
        ObjectBytes = ServingTestRepo.RandomBytes(10_000);
        ServingTestRepo.Write(Factory, ObjectPath, ObjectBytes);

        LargeBytes = ServingTestRepo.RandomBytes(700_000); // above the in-memory limit for mutable files and the copy chunk
        ServingTestRepo.Write(Factory, "summary", LargeBytes);
        ServingTestRepo.Write(Factory, "summary.sig", ServingTestRepo.RandomBytes(600));
        ServingTestRepo.Write(Factory, "refs/heads/main", "0123456789012345678901234567890123456789012345678901234567890123\n"u8.ToArray());
        ServingTestRepo.Write(Factory, "refs/heads/os/x86_64/stable", "0123456789012345678901234567890123456789012345678901234567890123\n"u8.ToArray());
        ServingTestRepo.Write(Factory, ServingTestRepo.ObjectPath(ObjectChecksum, "commitmeta"), ServingTestRepo.RandomBytes(100));
        ServingTestRepo.Write(Factory, ServingTestRepo.ObjectPath(ObjectChecksum, "dirtree"), ServingTestRepo.RandomBytes(100));

        var to = ServingTestRepo.RandomChecksum();
        DeltaFolder = ServingTestRepo.DeltaFolder(ServingTestRepo.RandomChecksum(), to);
        ServingTestRepo.WriteDelta(Factory, DeltaFolder, parts: 2);
        var toMb64 = DeltaFolder[(DeltaFolder.IndexOf('-') + 1)..];
        DeltaIndexPath = $"delta-indexes/{toMb64[..2]}/{toMb64[2..]}.index";
        ServingTestRepo.Write(Factory, DeltaIndexPath, ServingTestRepo.RandomBytes(200));
        ServingTestRepo.WriteCanaries(Factory);
    }

    public OtaServerFactory Factory { get; }
    public Uri BaseAddress { get; }
    public HttpClient Client { get; }
    public string ObjectChecksum { get; }
    public string ObjectPath { get; }
    public byte[] ObjectBytes { get; }
    public byte[] LargeBytes { get; }
    public string DeltaFolder { get; }
    public string DeltaIndexPath { get; }

    public string Url(string relativePath) => "repos/main/" + relativePath;

    public void Dispose()
    {
        Client.Dispose();
        Factory.Dispose();
    }
}
