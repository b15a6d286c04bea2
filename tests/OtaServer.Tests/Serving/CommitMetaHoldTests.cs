using System.Net;
using Microsoft.Extensions.DependencyInjection;
using OtaServer.Serving;
using OtaServer.Tests.Infrastructure;

namespace OtaServer.Tests.Serving;

/// <summary>
/// The 2022.7 duplicate-download workaround (spec §7.6) with synthetic delta folders: the commitmeta of a
/// delta's target is held for the client that fetched the superblock until it received the parts.
/// </summary>
public sealed class CommitMetaHoldTests
{
    private static readonly TimeSpan Forever = TimeSpan.FromMinutes(10);
    private static readonly TimeSpan TestTimeout = TimeSpan.FromSeconds(60);

    private static OtaServerFactory CreateFactory(TimeSpan grace, TimeSpan timeout, TimeSpan idle) => new(new Dictionary<string, string?>
    {
        ["OtaServer:Serving:CommitMetaGrace"] = grace.ToString("c"),
        ["OtaServer:Serving:CommitMetaTimeout"] = timeout.ToString("c"),
        ["OtaServer:Serving:CommitMetaIdleRelease"] = idle.ToString("c"),
    });

    private static HttpClient Client(Uri address, string agent)
    {
        var client = new HttpClient { BaseAddress = address };
        client.DefaultRequestHeaders.UserAgent.ParseAdd(agent);
        return client;
    }

    private static DeltaHoldStatistics Stats(OtaServerFactory factory) =>
        factory.Services.GetRequiredService<DeltaDownloadTracker>().Statistics;

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task CommitMeta_AfterSuperblock_IsHeldUntilAllPartsAreFetched(bool scratch)
    {
        using var factory = CreateFactory(grace: TimeSpan.Zero, timeout: Forever, idle: Forever);
        var address = factory.StartKestrel();
        var to = ServingTestRepo.RandomChecksum();
        var folder = "repos/main/" + (scratch ? ServingTestRepo.ScratchDeltaFolder(to) : ServingTestRepo.DeltaFolder(ServingTestRepo.RandomChecksum(), to));
        ServingTestRepo.WriteDelta(factory, folder["repos/main/".Length..], parts: 2, partSize: 300_000);
        var commitMeta = ServingTestRepo.RandomBytes(64);
        ServingTestRepo.Write(factory, ServingTestRepo.ObjectPath(to, "commitmeta"), commitMeta);
        using var device = Client(address, "libostree/2022.7");
        using var other = Client(address, "libostree/2022.7 other-device");

        Assert.Equal(HttpStatusCode.OK, (await device.GetAsync(folder + "/superblock")).StatusCode);
        var lastPartRequested = 0;
        var held = device.GetAsync("repos/main/" + ServingTestRepo.ObjectPath(to, "commitmeta"))
            .ContinueWith(t => (Response: t.Result, LastPartWasRequested: Volatile.Read(ref lastPartRequested) == 1), TaskScheduler.Default);
        Assert.Equal(300_000, (await device.GetByteArrayAsync(folder + "/0")).Length);

        // Meanwhile another client is not held for the same commitmeta.
        using var unheld = await other.GetAsync("repos/main/" + ServingTestRepo.ObjectPath(to, "commitmeta")).WaitAsync(TestTimeout);
        Assert.Equal(HttpStatusCode.OK, unheld.StatusCode);
        Assert.False(held.IsCompleted, "commitmeta was released before the last part was fetched");

        Volatile.Write(ref lastPartRequested, 1);
        Assert.Equal(300_000, (await device.GetByteArrayAsync(folder + "/1")).Length);
        var (response, lastPartWasRequested) = await held.WaitAsync(TestTimeout);
        Assert.True(lastPartWasRequested, "commitmeta was released before the last part was requested");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(commitMeta, await response.Content.ReadAsByteArrayAsync());
        Assert.Equal(new DeltaHoldStatistics(Tracked: 1, Held: 1, ReleasedComplete: 1, ReleasedIdle: 0, ReleasedTimeout: 0), Stats(factory));
    }

    [Fact]
    public async Task CommitMeta_WhenPartsNeverCome_IsReleasedOnTimeoutWith404()
    {
        using var factory = CreateFactory(grace: TimeSpan.Zero, timeout: TimeSpan.FromMilliseconds(200), idle: Forever);
        var address = factory.StartKestrel();
        var to = ServingTestRepo.RandomChecksum();
        var folder = ServingTestRepo.ScratchDeltaFolder(to);
        ServingTestRepo.WriteDelta(factory, folder, parts: 2);
        using var device = Client(address, "libostree/2022.7");

        Assert.Equal(HttpStatusCode.OK, (await device.GetAsync("repos/main/" + folder + "/superblock")).StatusCode);
        using var response = await device.GetAsync("repos/main/" + ServingTestRepo.ObjectPath(to, "commitmeta")).WaitAsync(TestTimeout);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal(new DeltaHoldStatistics(Tracked: 1, Held: 1, ReleasedComplete: 0, ReleasedIdle: 0, ReleasedTimeout: 1), Stats(factory));
    }

    [Fact]
    public async Task CommitMeta_WhenClientSkipsRemainingParts_IsReleasedWhenIdle()
    {
        using var factory = CreateFactory(grace: TimeSpan.Zero, timeout: Forever, idle: TimeSpan.FromMilliseconds(200));
        var address = factory.StartKestrel();
        var to = ServingTestRepo.RandomChecksum();
        var folder = "repos/main/" + ServingTestRepo.DeltaFolder(ServingTestRepo.RandomChecksum(), to);
        ServingTestRepo.WriteDelta(factory, folder["repos/main/".Length..], parts: 3);
        using var device = Client(address, "libostree/2022.7");

        Assert.Equal(HttpStatusCode.OK, (await device.GetAsync(folder + "/superblock")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await device.GetAsync(folder + "/1")).StatusCode);
        using var response = await device.GetAsync("repos/main/" + ServingTestRepo.ObjectPath(to, "commitmeta")).WaitAsync(TestTimeout);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal(new DeltaHoldStatistics(Tracked: 1, Held: 1, ReleasedComplete: 0, ReleasedIdle: 1, ReleasedTimeout: 0), Stats(factory));
    }

    [Fact]
    public async Task CommitMeta_WithoutSuperblockFetch_IsNeverHeld()
    {
        // Timeout and idle are "forever": a hold would hang the test.
        using var factory = CreateFactory(grace: Forever, timeout: Forever, idle: Forever);
        var address = factory.StartKestrel();
        var to = ServingTestRepo.RandomChecksum();
        var folder = ServingTestRepo.ScratchDeltaFolder(to);
        ServingTestRepo.WriteDelta(factory, folder, parts: 2);
        using var device = Client(address, "libostree/2022.7");

        // An ordinary object pull of the same commit (no superblock fetched): commitmeta, then the commit.
        using var response = await device.GetAsync("repos/main/" + ServingTestRepo.ObjectPath(to, "commitmeta")).WaitAsync(TestTimeout);
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        // A 404 superblock probe starts no tracking either.
        Assert.Equal(HttpStatusCode.NotFound, (await device.GetAsync("repos/main/" + ServingTestRepo.ScratchDeltaFolder(ServingTestRepo.RandomChecksum()) + "/superblock")).StatusCode);
        // A HEAD of the superblock is not a download.
        Assert.Equal(HttpStatusCode.OK, (await device.SendAsync(new HttpRequestMessage(HttpMethod.Head, "repos/main/" + folder + "/superblock"))).StatusCode);
        using var again = await device.GetAsync("repos/main/" + ServingTestRepo.ObjectPath(to, "commitmeta")).WaitAsync(TestTimeout);
        Assert.Equal(HttpStatusCode.NotFound, again.StatusCode);

        Assert.Equal(new DeltaHoldStatistics(0, 0, 0, 0, 0), Stats(factory));
    }

    [Fact]
    public async Task CommitMeta_WhenHoldDisabled_IsNotHeld()
    {
        using var factory = new OtaServerFactory(new Dictionary<string, string?>
        {
            ["OtaServer:Serving:HoldCommitMetaDuringDeltas"] = "false",
            ["OtaServer:Serving:CommitMetaTimeout"] = "00:10:00",
            ["OtaServer:Serving:CommitMetaIdleRelease"] = "00:10:00",
        });
        var client = factory.CreateClient();
        var to = ServingTestRepo.RandomChecksum();
        var folder = ServingTestRepo.ScratchDeltaFolder(to);
        ServingTestRepo.WriteDelta(factory, folder, parts: 2);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/repos/main/" + folder + "/superblock")).StatusCode);
        using var response = await client.GetAsync("/repos/main/" + ServingTestRepo.ObjectPath(to, "commitmeta")).WaitAsync(TestTimeout);
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal(0, Stats(factory).Held);
    }

    [Fact]
    public async Task Tracker_WhenFull_TracksNoMoreDownloads()
    {
        using var factory = new OtaServerFactory(new Dictionary<string, string?>
        {
            ["OtaServer:Serving:MaxTrackedDeltaDownloads"] = "2",
        });
        var client = factory.CreateClient();
        for (var i = 0; i < 5; i++)
        {
            var folder = ServingTestRepo.ScratchDeltaFolder(ServingTestRepo.RandomChecksum());
            ServingTestRepo.WriteDelta(factory, folder, parts: 1);
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/repos/main/" + folder + "/superblock")).StatusCode);
        }
        Assert.Equal(2, factory.Services.GetRequiredService<DeltaDownloadTracker>().Count);
    }
}
