using System.Security.Cryptography;
using System.Text;
using OtaServer.Jobs;
using OtaServer.Store;

namespace OtaServer.Tests.Store;

/// <summary>The four stores of one database, as one replica sees them.</summary>
public sealed record StoreSet(IFleetStore Fleet, IJobStore Jobs, IWaveStore Waves, IUpdateHistoryStore History);

/// <summary>
/// What every store provider must do, run against each (<see cref="SqliteStoreContractTests"/>,
/// <see cref="PostgresStoreContractTests"/>). A test gets a fresh database and may open it as several replicas
/// (separate connection pools on the same database); the concurrent tests race two replicas.
/// </summary>
public abstract class StoreContractTests : IDisposable
{
    private static readonly DateTimeOffset T0 = DateTimeOffset.FromUnixTimeMilliseconds(1_800_000_000_000);
    private readonly List<IDisposable> _owned = [];

    /// <summary>A new, empty, migrated database; each call of the returned function opens it as one more replica.</summary>
    protected abstract Task<Func<StoreSet>> NewDatabaseAsync();

    /// <summary>For subclasses: disposed when the test ends.</summary>
    protected T Own<T>(T disposable) where T : IDisposable
    {
        lock (_owned)
            _owned.Add(disposable);
        return disposable;
    }

    public void Dispose()
    {
        lock (_owned)
        {
            for (var i = _owned.Count - 1; i >= 0; i--)
                _owned[i].Dispose();
            _owned.Clear();
        }
        GC.SuppressFinalize(this);
    }

    private async Task<StoreSet> OpenAsync() => (await NewDatabaseAsync())();

    private static byte[] Hash(string s) => SHA256.HashData(Encoding.UTF8.GetBytes(s));

    private static NewTarget NewTarget(long version, string[]? hardware = null, string[]? tags = null, string repo = "main") =>
        new(repo, version, "os/stable", FleetCommit(version), hardware ?? [], tags ?? [], T0.AddMinutes(version));

    private static string FleetCommit(long version) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes("commit-" + version)));

    private static Device NewDevice(string name, string? tag = "stable", string? hw = "rpi4", long? version = null, string? group = null) =>
        new(name, hw, tag, version is null ? null : FleetCommit(version.Value), version, null, T0, group);

    /// <summary>Runs <paramref name="count"/> calls at once (released together), alternating between the replicas.</summary>
    private static async Task<T[]> RaceAsync<T>(int count, StoreSet[] replicas, Func<StoreSet, int, Task<T>> call)
    {
        var go = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var tasks = Enumerable.Range(0, count).Select(i => Task.Run(async () =>
        {
            await go.Task;
            return await call(replicas[i % replicas.Length], i);
        })).ToArray();
        go.SetResult();
        return await Task.WhenAll(tasks);
    }

    // ---- targets

    [Fact]
    public async Task AddTarget_IsListed_WithDistinctSortedHardwareAndTags()
    {
        var s = await OpenAsync();
        var added = await s.Fleet.AddTargetAsync(NewTarget(3, ["rpi4", "cm4", "rpi4"], ["stable", "beta"]), default);
        var listed = Assert.Single(await s.Fleet.ListTargetsAsync(default));
        Assert.Equal(added.Id, listed.Id);
        Assert.Equal(("main", 3L, "os/stable", FleetCommit(3), T0.AddMinutes(3)), (listed.Repository, listed.Version, listed.Ref, listed.Commit, listed.CreatedAt));
        Assert.Equal(["cm4", "rpi4"], listed.HardwareIds);
        Assert.Equal(["beta", "stable"], listed.Tags);
        Assert.Equal(["cm4", "rpi4"], added.HardwareIds);
    }

    [Fact]
    public async Task ListTargets_IsOrderedByVersionThenRepository()
    {
        var s = await OpenAsync();
        await s.Fleet.AddTargetAsync(NewTarget(2, repo: "b"), default);
        await s.Fleet.AddTargetAsync(NewTarget(1, repo: "z"), default);
        await s.Fleet.AddTargetAsync(NewTarget(2, repo: "a"), default);
        Assert.Equal([(1L, "z"), (2L, "a"), (2L, "b")], (await s.Fleet.ListTargetsAsync(default)).Select(t => (t.Version, t.Repository)));
    }

    [Fact]
    public async Task AddTarget_SameVersion_ConflictsWhenHardwareOverlaps_AndNotWhenDisjointOrInAnotherRepository()
    {
        var s = await OpenAsync();
        await s.Fleet.AddTargetAsync(NewTarget(5, ["rpi4"]), default);
        await s.Fleet.AddTargetAsync(NewTarget(5, ["cm4"]), default);
        await s.Fleet.AddTargetAsync(NewTarget(5, repo: "other"), default);
        var overlap = await Assert.ThrowsAsync<StoreConflictException>(() => s.Fleet.AddTargetAsync(NewTarget(5, ["x86", "cm4"]), default));
        Assert.Contains("version 5", overlap.Message);
        // No hardware ids means any hardware: it overlaps everything.
        await Assert.ThrowsAsync<StoreConflictException>(() => s.Fleet.AddTargetAsync(NewTarget(5), default));
        await Assert.ThrowsAsync<StoreConflictException>(() => s.Fleet.AddTargetAsync(NewTarget(5, ["any"], repo: "other"), default));
        Assert.Equal(3, (await s.Fleet.ListTargetsAsync(default)).Count);
    }

    [Fact]
    public async Task SetTargetTags_ReplacesTheTagsOfEachGivenTarget_Only()
    {
        var s = await OpenAsync();
        var a = await s.Fleet.AddTargetAsync(NewTarget(1, tags: ["stable"]), default);
        var b = await s.Fleet.AddTargetAsync(NewTarget(2, tags: ["beta"]), default);
        var c = await s.Fleet.AddTargetAsync(NewTarget(3, tags: ["keep"]), default);
        await s.Fleet.SetTargetTagsAsync(new Dictionary<long, IReadOnlyList<string>> { [a.Id] = [], [b.Id] = ["stable", "beta"] }, default);
        var tags = (await s.Fleet.ListTargetsAsync(default)).ToDictionary(t => t.Id, t => t.Tags);
        Assert.Empty(tags[a.Id]);
        Assert.Equal(["beta", "stable"], tags[b.Id]);
        Assert.Equal(["keep"], tags[c.Id]);
    }

    [Fact]
    public async Task DeleteTarget_RemovesIt_AndReportsUnknownIds()
    {
        var s = await OpenAsync();
        var t = await s.Fleet.AddTargetAsync(NewTarget(1, ["rpi4"], ["stable"]), default);
        Assert.True(await s.Fleet.DeleteTargetAsync(t.Id, default));
        Assert.False(await s.Fleet.DeleteTargetAsync(t.Id, default));
        Assert.Empty(await s.Fleet.ListTargetsAsync(default));
        // Its hardware ids went with it: the version is free again.
        await s.Fleet.AddTargetAsync(NewTarget(1, ["rpi4"]), default);
    }

    // ---- devices

    [Fact]
    public async Task AddDevice_RoundTripsEveryField_AndIsFoundByItsTokenHash()
    {
        var s = await OpenAsync();
        var d = new Device("dev-1", "rpi4", "stable", FleetCommit(4), 4, T0.AddSeconds(9), T0, "lab");
        Assert.True(await s.Fleet.AddDeviceAsync(d, Hash("t1"), default));
        Assert.Equal(d, await s.Fleet.GetDeviceAsync("dev-1", default));
        Assert.Equal("dev-1", await s.Fleet.FindDeviceNameByTokenHashAsync(Hash("t1"), default));
        Assert.Null(await s.Fleet.FindDeviceNameByTokenHashAsync(Hash("t2"), default));
        Assert.Null(await s.Fleet.GetDeviceAsync("nobody", default));
    }

    [Fact]
    public async Task AddDevice_TakenName_ReturnsFalse_AndKeepsTheFirst()
    {
        var s = await OpenAsync();
        Assert.True(await s.Fleet.AddDeviceAsync(NewDevice("d", tag: "a"), Hash("1"), default));
        Assert.False(await s.Fleet.AddDeviceAsync(NewDevice("d", tag: "b"), Hash("2"), default));
        Assert.Equal("a", (await s.Fleet.GetDeviceAsync("d", default))!.Tag);
        Assert.Null(await s.Fleet.FindDeviceNameByTokenHashAsync(Hash("2"), default));
    }

    [Fact]
    public async Task ListDevices_FiltersByEveryField_InOrdinalNameOrder()
    {
        var s = await OpenAsync();
        await s.Fleet.AddDeviceAsync(NewDevice("b", version: 1, group: "g"), Hash("b"), default);
        await s.Fleet.AddDeviceAsync(NewDevice("B", version: 2), Hash("B"), default);
        await s.Fleet.AddDeviceAsync(NewDevice("a", tag: "beta", hw: "cm4", version: 1, group: "g"), Hash("a"), default);
        async Task<string[]> Names(DeviceFilter f) => [.. (await s.Fleet.ListDevicesAsync(f, default)).Select(d => d.Name)];
        Assert.Equal(["B", "a", "b"], await Names(new()));
        Assert.Equal(["B", "b"], await Names(new(Tag: "stable")));
        Assert.Equal(["a", "b"], await Names(new(Version: 1)));
        Assert.Equal(["a"], await Names(new(HardwareId: "cm4")));
        Assert.Equal(["a", "b"], await Names(new(Group: "g")));
        Assert.Equal(["b"], await Names(new(Tag: "stable", Version: 1, HardwareId: "rpi4", Group: "g")));
    }

    [Fact]
    public async Task CountDevicesByVersion_GroupsByVersionAndHardware_UnknownVersionFirst()
    {
        var s = await OpenAsync();
        await s.Fleet.AddDeviceAsync(NewDevice("1", version: 2), Hash("1"), default);
        await s.Fleet.AddDeviceAsync(NewDevice("2", version: 2), Hash("2"), default);
        await s.Fleet.AddDeviceAsync(NewDevice("3", version: 1, hw: "cm4"), Hash("3"), default);
        await s.Fleet.AddDeviceAsync(NewDevice("4"), Hash("4"), default);
        await s.Fleet.AddDeviceAsync(NewDevice("5", tag: "beta", version: 2), Hash("5"), default);
        Assert.Equal([new VersionCount(null, "rpi4", 1), new VersionCount(1, "cm4", 1), new VersionCount(2, "rpi4", 2)],
            await s.Fleet.CountDevicesByVersionAsync("stable", null, default));
        Assert.Equal([new VersionCount(1, "cm4", 1)], await s.Fleet.CountDevicesByVersionAsync("stable", "cm4", default));
    }

    [Fact]
    public async Task UpdateDeviceState_WritesTheCheckIn()
    {
        var s = await OpenAsync();
        await s.Fleet.AddDeviceAsync(NewDevice("d", group: "g"), Hash("d"), default);
        await s.Fleet.UpdateDeviceStateAsync("d", new DeviceState("cm4", "beta", FleetCommit(7), 7, T0.AddHours(1)), default);
        Assert.Equal(new Device("d", "cm4", "beta", FleetCommit(7), 7, T0.AddHours(1), T0, "g"), await s.Fleet.GetDeviceAsync("d", default));
    }

    [Fact]
    public async Task TouchDevices_MovesLastSeenForwardOnly()
    {
        var s = await OpenAsync();
        await s.Fleet.AddDeviceAsync(NewDevice("a"), Hash("a"), default);
        await s.Fleet.AddDeviceAsync(NewDevice("b"), Hash("b"), default);
        await s.Fleet.TouchDevicesAsync([new("a", T0.AddMinutes(5)), new("b", T0.AddMinutes(5)), new("ghost", T0)], default);
        await s.Fleet.TouchDevicesAsync([new("a", T0.AddMinutes(2)), new("b", T0.AddMinutes(9))], default);
        Assert.Equal(T0.AddMinutes(5), (await s.Fleet.GetDeviceAsync("a", default))!.LastSeen);
        Assert.Equal(T0.AddMinutes(9), (await s.Fleet.GetDeviceAsync("b", default))!.LastSeen);
    }

    [Fact]
    public async Task SetDeviceGroup_SetsAndClears_AndReportsUnknownDevices()
    {
        var s = await OpenAsync();
        await s.Fleet.AddDeviceAsync(NewDevice("d"), Hash("d"), default);
        Assert.True(await s.Fleet.SetDeviceGroupAsync("d", "lab", default));
        Assert.Equal("lab", (await s.Fleet.GetDeviceAsync("d", default))!.Group);
        Assert.True(await s.Fleet.SetDeviceGroupAsync("d", null, default));
        Assert.Null((await s.Fleet.GetDeviceAsync("d", default))!.Group);
        Assert.False(await s.Fleet.SetDeviceGroupAsync("nobody", "lab", default));
    }

    [Fact]
    public async Task Rollbacks_AreReplaced_MarkedDone_Cleared_AndNeedAnExistingDevice()
    {
        var s = await OpenAsync();
        await s.Fleet.AddDeviceAsync(NewDevice("d"), Hash("d"), default);
        Assert.False(await s.Fleet.SetRollbackAsync(new("nobody", 1, 1, FleetCommit(1), null, T0, null), default));
        Assert.True(await s.Fleet.SetRollbackAsync(new("d", 1, 1, FleetCommit(1), "bad", T0, null), default));
        await s.Fleet.MarkRollbackDoneAsync("d", T0.AddMinutes(1), default);
        Assert.Equal([new DeviceRollback("d", 1, 1, FleetCommit(1), "bad", T0, T0.AddMinutes(1))], await s.Fleet.ListRollbacksAsync(default));
        // A new order replaces the old one and is pending again.
        Assert.True(await s.Fleet.SetRollbackAsync(new("d", 2, 2, FleetCommit(2), null, T0.AddMinutes(2), null), default));
        Assert.Equal([new DeviceRollback("d", 2, 2, FleetCommit(2), null, T0.AddMinutes(2), null)], await s.Fleet.ListRollbacksAsync(default));
        Assert.True(await s.Fleet.ClearRollbackAsync("d", default));
        Assert.False(await s.Fleet.ClearRollbackAsync("d", default));
        Assert.Empty(await s.Fleet.ListRollbacksAsync(default));
    }

    [Fact]
    public async Task DeleteDevice_TakesItsRollbackAndHistoryWithIt()
    {
        var s = await OpenAsync();
        await s.Fleet.AddDeviceAsync(NewDevice("d"), Hash("d"), default);
        await s.Fleet.SetRollbackAsync(new("d", 1, 1, FleetCommit(1), null, T0, null), default);
        await s.History.AddAsync("d", "ok", 1, FleetCommit(1), null, null, T0, default);
        Assert.True(await s.Fleet.DeleteDeviceAsync("d", default));
        Assert.False(await s.Fleet.DeleteDeviceAsync("d", default));
        Assert.Empty(await s.Fleet.ListRollbacksAsync(default));
        // A device of the same name starts with a clean history.
        await s.Fleet.AddDeviceAsync(NewDevice("d"), Hash("d2"), default);
        Assert.Empty(await s.History.ListAsync("d", 10, default));
    }

    // ---- registration tokens

    [Fact]
    public async Task RegisterDevice_UsesTheTokenOnce_FillsItsDefaults_AndSaysWhyNot()
    {
        var s = await OpenAsync();
        await s.Fleet.AddRegistrationTokenAsync(Hash("reg"), new RegistrationToken("beta", "cm4", 2, T0.AddDays(1), T0), default);
        Assert.Equal(RegistrationOutcome.UnknownToken, await s.Fleet.RegisterDeviceAsync(Hash("nope"), NewDevice("x", tag: null, hw: null), Hash("x"), default));
        Assert.Equal(RegistrationOutcome.Registered, await s.Fleet.RegisterDeviceAsync(Hash("reg"), NewDevice("a", tag: null, hw: null), Hash("a"), default));
        var a = (await s.Fleet.GetDeviceAsync("a", default))!;
        Assert.Equal(("beta", "cm4"), (a.Tag, a.HardwareId));
        // A taken name does not use the token up.
        Assert.Equal(RegistrationOutcome.NameTaken, await s.Fleet.RegisterDeviceAsync(Hash("reg"), NewDevice("a"), Hash("a2"), default));
        Assert.Equal(RegistrationOutcome.Registered, await s.Fleet.RegisterDeviceAsync(Hash("reg"), NewDevice("b", tag: "stable", hw: "rpi4"), Hash("b"), default));
        Assert.Equal(("stable", "rpi4"), ((await s.Fleet.GetDeviceAsync("b", default))!.Tag, (await s.Fleet.GetDeviceAsync("b", default))!.HardwareId));
        Assert.Equal(RegistrationOutcome.Expired, await s.Fleet.RegisterDeviceAsync(Hash("reg"), NewDevice("c"), Hash("c"), default));
        Assert.Null(await s.Fleet.GetDeviceAsync("c", default));
    }

    [Fact]
    public async Task RegisterDevice_AfterTheTokenExpires_IsRefused()
    {
        var s = await OpenAsync();
        await s.Fleet.AddRegistrationTokenAsync(Hash("reg"), new RegistrationToken(null, null, 5, T0.AddMinutes(1), T0), default);
        var late = NewDevice("late") with { CreatedAt = T0.AddMinutes(1) };
        Assert.Equal(RegistrationOutcome.Expired, await s.Fleet.RegisterDeviceAsync(Hash("reg"), late, Hash("late"), default));
        Assert.Equal(RegistrationOutcome.Registered, await s.Fleet.RegisterDeviceAsync(Hash("reg"), late with { CreatedAt = T0.AddSeconds(59) }, Hash("late"), default));
    }

    // ---- jobs

    [Fact]
    public async Task Enqueue_SameDedupKeyWhileActive_ReturnsTheActiveJob_AndAfterItFinishes_ANewOne()
    {
        var s = await OpenAsync();
        var (first, created) = await s.Jobs.EnqueueAsync("j1", "delta", "{}", "k", T0, default);
        Assert.True(created);
        Assert.Equal(new JobRecord("j1", "delta", "{}", "k", JobStatus.Pending, 0, T0, null, null, null), first);
        var (again, createdAgain) = await s.Jobs.EnqueueAsync("j2", "delta", "{\"x\":1}", "k", T0, default);
        Assert.False(createdAgain);
        Assert.Equal("j1", again.Id);
        Assert.True((await s.Jobs.EnqueueAsync("j3", "delta", "{}", null, T0, default)).Created);
        Assert.True((await s.Jobs.EnqueueAsync("j4", "delta", "{}", null, T0, default)).Created);
        Assert.Equal("j1", (await s.Jobs.ClaimNextAsync(T0, default))!.Id);
        Assert.False((await s.Jobs.EnqueueAsync("j5", "delta", "{}", "k", T0, default)).Created); // Running is active too
        Assert.True(await s.Jobs.FinishAsync("j1", JobStatus.Succeeded, null, T0.AddSeconds(1), default));
        var (next, createdNext) = await s.Jobs.EnqueueAsync("j6", "delta", "{}", "k", T0.AddSeconds(2), default);
        Assert.True(createdNext);
        Assert.Equal("j6", next.Id);
        Assert.Null(await s.Jobs.GetAsync("j2", default));
    }

    [Fact]
    public async Task ClaimNext_IsFifo_EvenWithinOneMillisecond_AndCountsAttempts()
    {
        var s = await OpenAsync();
        // Ids sort the other way round: the order must come from the queue, not the id.
        foreach (var id in new[] { "z", "m", "a" })
            await s.Jobs.EnqueueAsync(id, "k", "{}", null, T0, default);
        await s.Jobs.EnqueueAsync("earlier", "k", "{}", null, T0.AddMilliseconds(-1), default);
        var order = new List<string>();
        while (await s.Jobs.ClaimNextAsync(T0.AddSeconds(1), default) is { } j)
        {
            Assert.Equal((JobStatus.Running, 1, T0.AddSeconds(1)), (j.Status, j.Attempts, j.StartedAt));
            order.Add(j.Id);
        }
        Assert.Equal(["earlier", "z", "m", "a"], order);
        Assert.Equal(["a", "earlier", "m", "z"], (await s.Jobs.RequeueRunningAsync(default)).Order(StringComparer.Ordinal));
        Assert.Equal(2, (await s.Jobs.ClaimNextAsync(T0.AddSeconds(2), default))!.Attempts);
    }

    [Fact]
    public async Task Finish_OnlyARunningJob_CancelPending_OnlyAPendingJob()
    {
        var s = await OpenAsync();
        await s.Jobs.EnqueueAsync("a", "k", "{}", null, T0, default);
        await s.Jobs.EnqueueAsync("b", "k", "{}", null, T0.AddMilliseconds(1), default);
        Assert.False(await s.Jobs.FinishAsync("a", JobStatus.Failed, "no", T0, default));
        await s.Jobs.ClaimNextAsync(T0, default);
        Assert.False(await s.Jobs.CancelPendingAsync("a", T0, default));
        Assert.True(await s.Jobs.FinishAsync("a", JobStatus.Failed, "boom", T0.AddSeconds(3), default));
        Assert.False(await s.Jobs.FinishAsync("a", JobStatus.Succeeded, null, T0.AddSeconds(4), default));
        Assert.True(await s.Jobs.CancelPendingAsync("b", T0.AddSeconds(5), default));
        var a = (await s.Jobs.GetAsync("a", default))!;
        Assert.Equal((JobStatus.Failed, "boom", T0.AddSeconds(3)), (a.Status, a.Error, a.FinishedAt));
        var b = (await s.Jobs.GetAsync("b", default))!;
        Assert.Equal((JobStatus.Cancelled, T0.AddSeconds(5), null), (b.Status, b.FinishedAt, b.StartedAt));
        Assert.Null(await s.Jobs.ClaimNextAsync(T0, default));
    }

    [Fact]
    public async Task ListJobs_NewestFirst_FilteredByStatus_AndLimited()
    {
        var s = await OpenAsync();
        for (var i = 0; i < 5; i++)
            await s.Jobs.EnqueueAsync($"j{i}", "k", "{}", null, T0.AddSeconds(i), default);
        await s.Jobs.ClaimNextAsync(T0, default); // j0
        Assert.Equal(["j4", "j3", "j2"], (await s.Jobs.ListAsync(null, 3, default)).Select(j => j.Id));
        Assert.Equal(["j0"], (await s.Jobs.ListAsync(JobStatus.Running, 10, default)).Select(j => j.Id));
        Assert.Equal(4, (await s.Jobs.ListAsync(JobStatus.Pending, 10, default)).Count);
    }

    [Fact]
    public async Task JobLog_ReadsByLineNumberAndByByteOffset()
    {
        var s = await OpenAsync();
        await s.Jobs.EnqueueAsync("j", "k", "{}", null, T0, default);
        Assert.Null(s.Jobs.GetLastLogLine("j"));
        s.Jobs.AppendLog("j", new JobLogLine(1, 0, 6, "one é\n"));
        s.Jobs.AppendLog("j", new JobLogLine(2, 6, 10, "two\n"));
        s.Jobs.AppendLog("j", new JobLogLine(3, 10, 16, "three\n"));
        Assert.Equal(new JobLogLine(3, 10, 16, "three\n"), s.Jobs.GetLastLogLine("j"));
        Assert.Equal([2L, 3L], (await s.Jobs.ReadLogAfterSeqAsync("j", 1, 10, default)).Select(l => l.Seq));
        Assert.Equal([2L], (await s.Jobs.ReadLogAfterSeqAsync("j", 1, 1, default)).Select(l => l.Seq));
        Assert.Equal([2L, 3L], (await s.Jobs.ReadLogFromOffsetAsync("j", 6, 10, default)).Select(l => l.Seq));
        Assert.Equal([1L, 2L, 3L], (await s.Jobs.ReadLogFromOffsetAsync("j", 5, 10, default)).Select(l => l.Seq));
        Assert.Equal("one é\n", (await s.Jobs.ReadLogAfterSeqAsync("j", 0, 1, default))[0].Text);
    }

    // ---- waves

    private static Wave NewWave(string name = "w1") =>
        new(name, 7, "main", 7, FleetCommit(7), "stable", "rpi4", WaveStatus.Active, null, 0.25, 5, true, 0, T0, null);

    [Fact]
    public async Task AddWave_RoundTripsEveryField_AndRefusesATakenName()
    {
        var s = await OpenAsync();
        Assert.True(await s.Waves.AddWaveAsync(NewWave(), default));
        Assert.False(await s.Waves.AddWaveAsync(NewWave() with { Tag = "other" }, default));
        Assert.True(await s.Waves.AddWaveAsync(NewWave("w0") with { CreatedAt = T0.AddSeconds(1), HardwareId = null, PauseAfterStep = false }, default));
        Assert.Equal([NewWave(), NewWave("w0") with { CreatedAt = T0.AddSeconds(1), HardwareId = null, PauseAfterStep = false }], await s.Waves.ListWavesAsync(default));
        await s.Waves.SetWaveStatusAsync("w1", WaveStatus.Completed, "done", T0.AddHours(1), default);
        Assert.Equal(NewWave() with { Status = WaveStatus.Completed, StatusReason = "done", FinishedAt = T0.AddHours(1) }, (await s.Waves.ListWavesAsync(default))[0]);
    }

    [Fact]
    public async Task AddWaveDevices_NumbersSteps_SkipsDevicesAlreadyIn_AndRecordsWhoAndResults()
    {
        var s = await OpenAsync();
        await s.Waves.AddWaveAsync(NewWave(), default);
        Assert.Equal(2, await s.Waves.AddWaveDevicesAsync("w1", ["b", "a"], T0, "alice", default));
        Assert.Equal(1, await s.Waves.AddWaveDevicesAsync("w1", ["a", "c"], T0.AddMinutes(1), null, default));
        Assert.True(await s.Waves.AddWaveDeviceAtStepAsync("w1", "d", 1, T0.AddMinutes(2), default));
        Assert.False(await s.Waves.AddWaveDeviceAtStepAsync("w1", "c", 1, T0.AddMinutes(2), default));
        await s.Waves.RecordResultAsync("w1", "a", "failed", "no space", T0.AddMinutes(3), default);
        Assert.Equal(
            [
                new WaveDevice("w1", "a", 1, T0, "failed", "no space", T0.AddMinutes(3), "alice"),
                new WaveDevice("w1", "b", 1, T0, null, null, null, "alice"),
                new WaveDevice("w1", "d", 1, T0.AddMinutes(2), null, null, null),
                new WaveDevice("w1", "c", 2, T0.AddMinutes(1), null, null, null),
            ], await s.Waves.ListWaveDevicesAsync("w1", default));
        Assert.Equal(2, (await s.Waves.ListWavesAsync(default))[0].Steps);
    }

    [Fact]
    public async Task WaveGroups_AreKeptWithTheirStep_OncePerGroup()
    {
        var s = await OpenAsync();
        await s.Waves.AddWaveAsync(NewWave(), default);
        await s.Waves.AddWaveAsync(NewWave("w2"), default);
        await s.Waves.AddWaveGroupAsync("w1", "lab", 1, default);
        await s.Waves.AddWaveGroupAsync("w1", "lab", 3, default);
        await s.Waves.AddWaveGroupAsync("w1", "field", 2, default);
        Assert.Equal(new Dictionary<string, int> { ["lab"] = 1, ["field"] = 2 }, await s.Waves.ListWaveGroupsAsync("w1", default));
        Assert.Empty(await s.Waves.ListWaveGroupsAsync("w2", default));
    }

    // ---- update history

    [Fact]
    public async Task UpdateHistory_KeepsTheNewestSteps_OldestFirst_OnlyForKnownDevices()
    {
        var s = await OpenAsync();
        await s.Fleet.AddDeviceAsync(NewDevice("d"), Hash("d"), default);
        Assert.False(await s.History.AddAsync("ghost", "ok", null, null, null, null, T0, default));
        foreach (var (step, i) in new[] { "download-started", "downloaded", "staged", "rebooted" }.Select((x, i) => (x, i)))
            Assert.True(await s.History.AddAsync("d", step, 7, FleetCommit(7), i == 1 ? 1234 : null, i == 2 ? "detail" : null, T0.AddSeconds(i), default));
        var last = await s.History.ListAsync("d", 3, default);
        Assert.Equal(["downloaded", "staged", "rebooted"], last.Select(e => e.Step));
        Assert.Equal(("d", 7L, FleetCommit(7), 1234L, (string?)null, T0.AddSeconds(1)), (last[0].Device, last[0].TargetVersion, last[0].TargetCommit, last[0].Bytes, last[0].Detail, last[0].ReportedAt));
        Assert.Equal("detail", last[1].Detail);
        Assert.True(last[0].Id < last[1].Id && last[1].Id < last[2].Id);
    }

    // ---- races between replicas (SQLite's single writer hid them; PostgreSQL must close them)

    [Fact]
    public async Task ConcurrentEnqueues_WithOneDedupKey_CreateOneJob_AndAllGetIt()
    {
        var open = await NewDatabaseAsync();
        StoreSet[] replicas = [open(), open()];
        var results = await RaceAsync(24, replicas, (s, i) => s.Jobs.EnqueueAsync($"job-{i:00}", "delta", "{}", "delta:a:b", T0, default));
        var winner = Assert.Single(results, r => r.Created).Job.Id;
        Assert.All(results, r => Assert.Equal(winner, r.Job.Id));
        Assert.Single(await replicas[0].Jobs.ListAsync(null, 100, default));
    }

    [Fact]
    public async Task ConcurrentAddTargets_ForOverlappingHardware_OnlyOneWins()
    {
        var open = await NewDatabaseAsync();
        StoreSet[] replicas = [open(), open()];
        var results = await RaceAsync(16, replicas, async (s, i) =>
        {
            try
            {
                await s.Fleet.AddTargetAsync(NewTarget(9, i % 2 == 0 ? ["rpi4"] : ["rpi4", "cm4"]), default);
                return true;
            }
            catch (StoreConflictException)
            {
                return false;
            }
        });
        Assert.Single(results, won => won);
        Assert.Single(await replicas[1].Fleet.ListTargetsAsync(default));
    }

    [Fact]
    public async Task ConcurrentRegistrations_NeverUseATokenMoreOftenThanAllowed()
    {
        var open = await NewDatabaseAsync();
        StoreSet[] replicas = [open(), open()];
        await replicas[0].Fleet.AddRegistrationTokenAsync(Hash("reg"), new RegistrationToken("stable", null, 3, T0.AddDays(1), T0), default);
        var outcomes = await RaceAsync(20, replicas, (s, i) => s.Fleet.RegisterDeviceAsync(Hash("reg"), NewDevice($"dev-{i:00}"), Hash($"dev-{i}"), default));
        Assert.Equal(3, outcomes.Count(o => o == RegistrationOutcome.Registered));
        Assert.Equal(17, outcomes.Count(o => o == RegistrationOutcome.Expired));
        Assert.Equal(3, (await replicas[1].Fleet.ListDevicesAsync(new(), default)).Count);
    }

    [Fact]
    public async Task ConcurrentWaveSteps_GetDistinctNumbers_AndScheduleEachDeviceOnce()
    {
        var open = await NewDatabaseAsync();
        StoreSet[] replicas = [open(), open()];
        await replicas[0].Waves.AddWaveAsync(NewWave(), default);
        // Each step asks for 6 devices out of 10, overlapping the others.
        var added = await RaceAsync(12, replicas, (s, i) =>
            s.Waves.AddWaveDevicesAsync("w1", [.. Enumerable.Range(i, 6).Select(n => $"d{n % 10}")], T0, null, default));
        var devices = await replicas[1].Waves.ListWaveDevicesAsync("w1", default);
        Assert.Equal(10, devices.Count);
        Assert.Equal(10, added.Sum());
        Assert.Equal(12, (await replicas[1].Waves.ListWavesAsync(default))[0].Steps);
        Assert.All(devices, d => Assert.InRange(d.Step, 1, 12));
    }

    [Fact]
    public async Task ConcurrentClaims_HandEachJobToOneWorker_Oldest_First()
    {
        var open = await NewDatabaseAsync();
        StoreSet[] replicas = [open(), open()];
        for (var i = 0; i < 12; i++)
            await replicas[0].Jobs.EnqueueAsync($"j{i:00}", "k", "{}", null, T0.AddMilliseconds(i), default);
        var claims = await RaceAsync(20, replicas, (s, _) => s.Jobs.ClaimNextAsync(T0.AddSeconds(1), default));
        var ids = claims.Where(c => c is not null).Select(c => c!.Id).ToList();
        Assert.Equal(12, ids.Count);
        Assert.Equal(12, ids.Distinct().Count());
        Assert.All(claims.Where(c => c is not null), c => Assert.Equal(1, c!.Attempts));
    }
}
