using Microsoft.AspNetCore.Http.HttpResults;
using OtaServer.Auth;
using OtaServer.Deltas;
using OtaServer.Http;
using OtaServer.Store;
using OtaServer.Targets;

namespace OtaServer.Waves;

public sealed record CreateWaveRequest(
    string? Name,
    long? Version,
    string? Tag,
    string? HardwareId = null,
    bool Force = false,
    double? FailureRatio = null,
    int? MinSample = null,
    bool PauseAfterEachStep = false);

public sealed record WaveDto(
    string Name,
    long Version,
    string Tag,
    string? HardwareId,
    WaveStatus Status,
    string? StatusReason,
    double FailureRatio,
    int MinSample,
    bool PauseAfterEachStep,
    int Steps,
    DateTimeOffset CreatedAt,
    DateTimeOffset? FinishedAt)
{
    internal static WaveDto From(Wave w) => new(w.Name, w.Version, w.Tag, w.HardwareId, w.Status, w.StatusReason, w.FailureRatio,
        w.MinSample, w.PauseAfterStep, w.Steps, w.CreatedAt, w.FinishedAt);
}

public sealed record RolloutRequest(string? Group = null, IReadOnlyList<string>? Devices = null, int? Limit = null, double? Percentage = null, bool DryRun = false);

public sealed record RolloutResponse(string Wave, bool DryRun, int Step, IReadOnlyList<string> Devices, WaveStatus Status);

/// <summary>NoSpace: devices that refused the update for lack of free space (not counted as failures by the health gate).</summary>
public sealed record WaveTotals(int InScope, int Scheduled, int Updated, int Failed, int NotYetSeen, int NoSpace = 0);

/// <summary>A device in the wave's scope with an operator's rollback order (pending or done).</summary>
public sealed record WaveRollback(string Device, long Version, string State, DateTimeOffset RequestedAt);

/// <summary>One rollout step of a wave: who scheduled it (token name), when, and how many devices it holds (with later group joiners).</summary>
public sealed record WaveStep(int Step, string? By, DateTimeOffset ScheduledAt, int Devices);

public sealed record WaveStatusResponse(WaveDto Wave, WaveTotals Totals, IReadOnlyDictionary<string, WaveTotals> Groups, IReadOnlyList<WaveRollback> Rollbacks,
    IReadOnlyList<WaveStep> History);

/// <summary>Waves: staged rollouts of a target to the devices of a tag, gated on deltas and on device health.</summary>
internal static class WavesEndpoints
{
    public const string NoGroup = "(none)";

    public static void Map(IEndpointRouteBuilder app)
    {
        var g = app.MapGroup("/api/v1/waves").WithTags("Waves").RequireAuthorization(Scopes.Admin);
        g.MapPost("", CreateAsync).WithName("CreateWave")
            .WithSummary("Creates a wave for a target version on a tag; refused when not newer than the tag's target, or when deltas are missing (unless force).")
            .Accepts<CreateWaveRequest>("application/json");
        g.MapGet("", ListAsync).WithName("ListWaves");
        g.MapGet("{name}", StatusAsync).WithName("GetWave").WithSummary("The wave with totals overall and per group.");
        g.MapPost("{name}/rollout", RolloutAsync).WithName("RolloutWave")
            .WithSummary("Schedules devices (group, devices, limit or percentage; dryRun lists them). Prefers recently seen devices. A group alone is followed: devices that join it later are scheduled when they check in.")
            .Accepts<RolloutRequest>("application/json");
        g.MapPost("{name}/complete", CompleteAsync).WithName("CompleteWave").WithSummary("Tags the target for everyone on the tag.");
        g.MapPost("{name}/cancel", CancelAsync).WithName("CancelWave").WithSummary("Stops the wave: scheduled devices that have not updated go back to the tag's target.");
        g.MapPost("{name}/resume", ResumeAsync).WithName("ResumeWave").WithSummary("Continues a wave paused by its health gate or holding after a step.");
    }

    private static ProblemHttpResult UnknownWave(string name) => Problems.NotFound($"No wave named '{name}'. List waves with GET /api/v1/waves.");

    private static async Task<Results<Created<WaveDto>, ProblemHttpResult>> CreateAsync(
        HttpRequest http, IWaveStore store, WaveCatalog waves, TargetCatalog targets, DeltaPlanner planner, TimeProvider time, CancellationToken ct)
    {
        var (req, problem) = await JsonBody.ReadAsync<CreateWaveRequest>(http, ct);
        if (problem is not null)
            return problem;
        if (!Names.IsDeviceName(req!.Name))
            return Problems.BadRequest($"'name' is required: {Names.DeviceRule} (got '{req.Name}').");
        if (req.Version is not { } version)
            return Problems.BadRequest("'version' is required: the target version to roll out.");
        if (!Names.IsTag(req.Tag))
            return Problems.BadRequest($"'tag' is required: {Names.TagRule} (got '{req.Tag}').");
        if (req.HardwareId is not null && !Names.IsHardwareId(req.HardwareId))
            return Problems.BadRequest($"Invalid 'hardwareId' '{req.HardwareId}': use {Names.HardwareRule}.");
        var ratio = req.FailureRatio ?? 0.2;
        if (ratio is < 0 or > 1)
            return Problems.BadRequest("'failureRatio' must be between 0 and 1 (e.g. 0.2 pauses the wave when more than 20% of updates fail).");
        var minSample = req.MinSample ?? 5;
        if (minSample < 1)
            return Problems.BadRequest("'minSample' must be 1 or more.");
        // One wave covers every target of the version (one per hardware id) unless 'hardwareId' narrows it.
        var snapshotTargets = await targets.GetAsync(ct);
        var versionTargets = snapshotTargets.WithVersion(version, null, req.HardwareId).ToList();
        if (versionTargets.Count == 0)
        {
            return Problems.NotFound($"No target with version {version}" + (req.HardwareId is null ? "" : $" for hardware id '{req.HardwareId}'") +
                ". List targets with GET /api/v1/targets (otactl targets list).");
        }

        if (versionTargets.Select(t => t.Repository).Distinct(StringComparer.Ordinal).Count() > 1)
            return Problems.Conflict($"Version {version} has targets in several repositories ({string.Join(", ", versionTargets.Select(t => t.Repository).Distinct())}): add 'hardwareId' to choose one.");
        var target = versionTargets[0];
        var existing = (await waves.GetAsync(ct)).All;
        if (existing.Any(w => w.Name == req.Name))
            return Problems.Conflict($"A wave named '{req.Name}' exists already.");
        if (existing.FirstOrDefault(w => w.Tag == req.Tag && !w.IsFinal) is { } open)
            return Problems.Conflict($"Wave '{open.Name}' (version {open.Version}) is still open on tag '{req.Tag}': complete or cancel it first.");
        var missing = new List<PlannedDelta>();
        foreach (var t in versionTargets)
        {
            foreach (var hw in t.HardwareIds.Count == 0 || req.HardwareId is not null ? [req.HardwareId] : t.HardwareIds.Select(h => (string?)h))
            {
                var current = snapshotTargets.NewestFor(req.Tag!, hw);
                if (current is not null && t.Version <= current.Version)
                {
                    return Problems.Conflict($"Version {version} is not newer than version {current.Version}, which tag '{req.Tag}' serves now" +
                        (hw is null ? "." : $" for hardware id '{hw}'."));
                }
            }
            var plan = await planner.PlanAsync(t, req.Tag, [], req.HardwareId, ct);
            missing.AddRange(plan.Deltas.Where(d => !d.Exists && !missing.Any(m => m.FromCommit == d.FromCommit && m.ToCommit == d.ToCommit)));
        }
        if (missing.Count > 0 && !req.Force)
        {
            return TypedResults.Problem(
                $"Static deltas are missing for devices on tag '{req.Tag}': {string.Join(", ", missing.Select(d => $"{d.From} -> {d.To} ({d.Devices} devices)"))}. " +
                $"Generate them (otactl targets static-deltas --by-tag {req.Tag} {version}) or pass \"force\": true.",
                statusCode: StatusCodes.Status409Conflict, title: "Static deltas missing",
                extensions: new Dictionary<string, object?> { ["missing"] = missing });
        }

        var wave = new Wave(req.Name!, target.Id, target.Repository, target.Version, target.Commit, req.Tag!, req.HardwareId, WaveStatus.Active, null,
            ratio, minSample, req.PauseAfterEachStep, 0, time.GetUtcNow(), null);
        if (!await store.AddWaveAsync(wave, ct))
            return Problems.Conflict($"A wave named '{req.Name}' exists already.");
        await waves.ReloadAsync(ct);
        return TypedResults.Created($"/api/v1/waves/{wave.Name}", WaveDto.From(wave));
    }

    private static async Task<Ok<IReadOnlyList<WaveDto>>> ListAsync(WaveCatalog waves, CancellationToken ct) =>
        TypedResults.Ok<IReadOnlyList<WaveDto>>([.. (await waves.GetAsync(ct)).All.Select(WaveDto.From)]);

    /// <summary>Devices following the wave's tag that fit its target's hardware.</summary>
    private static async Task<IReadOnlyList<Device>> ScopeAsync(Wave wave, IFleetStore fleet, TargetCatalog targets, CancellationToken ct)
    {
        var ofWave = TargetsOf(wave, await targets.GetAsync(ct));
        var devices = await fleet.ListDevicesAsync(new DeviceFilter(Tag: wave.Tag, HardwareId: wave.HardwareId), ct);
        return [.. devices.Where(d => ofWave.Count == 0 || d.HardwareId is null || ofWave.Any(t => t.MatchesHardware(d.HardwareId)))];
    }

    /// <summary>The targets a wave rolls out: every target of its version (one per hardware id), or the one it was narrowed to.</summary>
    internal static IReadOnlyList<Target> TargetsOf(Wave wave, TargetSnapshot snapshot) =>
        wave.HardwareId is null
            ? [.. snapshot.WithVersion(wave.Version, wave.Repository)]
            : snapshot.ById(wave.TargetId) is { } t ? [t] : [];

    private static async Task<Results<Ok<WaveStatusResponse>, ProblemHttpResult>> StatusAsync(
        string name, WaveCatalog waves, IWaveStore store, IFleetStore fleet, TargetCatalog targets, Devices.UpdatePolicy policy, CancellationToken ct)
    {
        if ((await waves.GetAsync(ct)).Find(name) is not { } wave)
            return UnknownWave(name);
        var scope = await ScopeAsync(wave, fleet, targets, ct);
        var rollbacks = new List<WaveRollback>();
        foreach (var d in scope)
        {
            if (await policy.GetRollbackAsync(d.Name, ct) is { } r)
                rollbacks.Add(new WaveRollback(d.Name, r.Version, r.IsPending ? "pending" : "done", r.RequestedAt));
        }

        var commits = TargetsOf(wave, await targets.GetAsync(ct)).Select(t => t.Commit).Append(wave.Commit).ToHashSet(StringComparer.Ordinal);
        var scheduled = (await store.ListWaveDevicesAsync(name, ct)).ToDictionary(d => d.Device, StringComparer.Ordinal);
        var all = new Counter();
        var groups = new SortedDictionary<string, Counter>(StringComparer.Ordinal);
        foreach (var d in scope)
        {
            var group = groups.TryGetValue(d.Group ?? NoGroup, out var c) ? c : groups[d.Group ?? NoGroup] = new Counter();
            foreach (var counter in new[] { all, group })
            {
                counter.InScope++;
                if (!scheduled.TryGetValue(d.Name, out var wd))
                    continue;
                counter.Scheduled++;
                if ((d.CurrentCommit is { } cc && commits.Contains(cc)) || wd.Result == "ok")
                    counter.Updated++;
                else if (wd.Result == "failed")
                    counter.Failed++;
                else if (wd.Result == "no-space")
                    counter.NoSpace++;
                if (d.LastSeen is null || d.LastSeen < wd.ScheduledAt)
                    counter.NotYetSeen++;
            }
        }
        var history = scheduled.Values.GroupBy(d => d.Step).OrderBy(s => s.Key)
            .Select(s => new WaveStep(s.Key, s.Select(d => d.ScheduledBy).FirstOrDefault(b => b is not null), s.Min(d => d.ScheduledAt), s.Count())).ToList();
        return TypedResults.Ok(new WaveStatusResponse(WaveDto.From(wave), all.ToTotals(), groups.ToDictionary(kv => kv.Key, kv => kv.Value.ToTotals()), rollbacks, history));
    }

    private sealed class Counter
    {
        public int InScope, Scheduled, Updated, Failed, NotYetSeen, NoSpace;

        public WaveTotals ToTotals() => new(InScope, Scheduled, Updated, Failed, NotYetSeen, NoSpace);
    }

    private static async Task<Results<Ok<RolloutResponse>, ProblemHttpResult>> RolloutAsync(
        string name, HttpRequest http, System.Security.Claims.ClaimsPrincipal user, WaveCatalog waves, IWaveStore store, IFleetStore fleet, TargetCatalog targets,
        TimeProvider time, CancellationToken ct)
    {
        var (req, problem) = await JsonBody.ReadAsync<RolloutRequest>(http, ct);
        if (problem is not null)
            return problem;
        if ((await waves.GetAsync(ct)).Find(name) is not { } wave)
            return UnknownWave(name);
        var selectors = (req!.Devices is not null ? 1 : 0) + (req.Limit is not null ? 1 : 0) + (req.Percentage is not null ? 1 : 0);
        if (selectors > 1 || (selectors == 0 && req.Group is null) || (req.Devices is not null && req.Group is not null))
            return Problems.BadRequest("Say whom to schedule: 'group', 'devices', 'limit' or 'percentage' (a group may be combined with limit or percentage).");
        if (req.Limit is < 1)
            return Problems.BadRequest("'limit' must be 1 or more.");
        if (req.Percentage is <= 0 or > 100)
            return Problems.BadRequest("'percentage' must be more than 0 and at most 100.");
        if (req.Group is not null && !Names.IsTag(req.Group))
            return Problems.BadRequest($"Invalid group '{req.Group}': use {Names.TagRule}.");
        switch (wave.Status)
        {
            case WaveStatus.Completed or WaveStatus.Cancelled:
                return Problems.Conflict($"Wave '{name}' is {wave.Status}; no more rollouts. Create a new wave.");
            case WaveStatus.Paused:
                return Problems.Conflict($"Wave '{name}' is paused: {wave.StatusReason}");
            case WaveStatus.Holding:
                return Problems.Conflict($"Wave '{name}' holds after step {wave.Steps}: check its status, then resume it to continue.");
        }
        var scope = await ScopeAsync(wave, fleet, targets, ct);
        var already = (await store.ListWaveDevicesAsync(name, ct)).Select(d => d.Device).ToHashSet(StringComparer.Ordinal);
        List<string> selected;
        if (req.Devices is { } names)
        {
            var inScope = scope.Select(d => d.Name).ToHashSet(StringComparer.Ordinal);
            var outside = names.Where(n => !inScope.Contains(n)).ToList();
            if (outside.Count > 0)
                return Problems.BadRequest($"Not in the wave's scope (devices following tag '{wave.Tag}'): {string.Join(", ", outside)}.");
            selected = [.. names.Distinct(StringComparer.Ordinal).Where(n => !already.Contains(n))];
        }
        else
        {
            var pool = scope.Where(d => req.Group is null || d.Group == req.Group).ToList();
            var candidates = pool.Where(d => !already.Contains(d.Name))
                .OrderByDescending(d => d.LastSeen ?? DateTimeOffset.MinValue).ThenBy(d => d.Name, StringComparer.Ordinal).ToList();
            var count = req.Limit
                ?? (req.Percentage is { } p ? (int)Math.Ceiling(p / 100 * pool.Count) - pool.Count(d => already.Contains(d.Name)) : candidates.Count);
            selected = [.. candidates.Take(Math.Max(0, count)).Select(d => d.Name)];
        }
        var step = wave.Steps;
        var status = wave.Status;
        if (!req.DryRun && selected.Count > 0)
        {
            await store.AddWaveDevicesAsync(name, selected, time.GetUtcNow(), user.Identity?.Name, ct);
            step++;
            if (wave.PauseAfterStep)
            {
                status = WaveStatus.Holding;
                await store.SetWaveStatusAsync(name, status, $"Step {step} scheduled {selected.Count} device(s): resume to continue.", null, ct);
            }
        }
        // A whole group (no limit or percentage) is followed: devices joining it later are scheduled at check-in (as in fioctl).
        if (!req.DryRun && req.Group is { } followed && req.Limit is null && req.Percentage is null)
            await store.AddWaveGroupAsync(name, followed, Math.Max(step, 1), ct);
        if (!req.DryRun)
            await waves.ReloadAsync(ct);
        return TypedResults.Ok(new RolloutResponse(name, req.DryRun, req.DryRun ? step + 1 : step, selected, status));
    }

    private static async Task<Results<Ok<WaveDto>, ProblemHttpResult>> CompleteAsync(
        string name, WaveCatalog waves, IWaveStore store, IFleetStore fleet, TargetCatalog targets, TimeProvider time, CancellationToken ct)
    {
        if ((await waves.GetAsync(ct)).Find(name) is not { } wave)
            return UnknownWave(name);
        if (wave.IsFinal)
            return Problems.Conflict($"Wave '{name}' is already {wave.Status}.");
        var ofWave = TargetsOf(wave, await targets.GetAsync(ct));
        if (ofWave.Count == 0)
            return Problems.Conflict($"The target of wave '{name}' (version {wave.Version}) was deleted; cancel the wave.");
        await fleet.SetTargetTagsAsync(ofWave.ToDictionary(t => t.Id,
            t => (IReadOnlyList<string>)[.. t.Tags.Append(wave.Tag).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)]), ct);
        await targets.ReloadAsync(ct);
        await store.SetWaveStatusAsync(name, WaveStatus.Completed, $"Tag '{wave.Tag}' now serves version {wave.Version}.", time.GetUtcNow(), ct);
        var snapshot = await waves.ReloadAsync(ct);
        return TypedResults.Ok(WaveDto.From(snapshot.Find(name)!));
    }

    private static async Task<Results<Ok<WaveDto>, ProblemHttpResult>> CancelAsync(
        string name, WaveCatalog waves, IWaveStore store, TimeProvider time, CancellationToken ct)
    {
        if ((await waves.GetAsync(ct)).Find(name) is not { } wave)
            return UnknownWave(name);
        if (wave.IsFinal)
            return Problems.Conflict($"Wave '{name}' is already {wave.Status}.");
        await store.SetWaveStatusAsync(name, WaveStatus.Cancelled, "Cancelled by an operator.", time.GetUtcNow(), ct);
        var snapshot = await waves.ReloadAsync(ct);
        return TypedResults.Ok(WaveDto.From(snapshot.Find(name)!));
    }

    private static async Task<Results<Ok<WaveDto>, ProblemHttpResult>> ResumeAsync(string name, WaveCatalog waves, IWaveStore store, CancellationToken ct)
    {
        if ((await waves.GetAsync(ct)).Find(name) is not { } wave)
            return UnknownWave(name);
        if (wave.Status is not (WaveStatus.Paused or WaveStatus.Holding))
            return Problems.Conflict($"Wave '{name}' is {wave.Status}; only a paused or holding wave can be resumed.");
        await store.SetWaveStatusAsync(name, WaveStatus.Active, null, null, ct);
        var snapshot = await waves.ReloadAsync(ct);
        return TypedResults.Ok(WaveDto.From(snapshot.Find(name)!));
    }
}
