using Microsoft.AspNetCore.Http.HttpResults;
using OtaServer.Auth;
using OtaServer.Http;
using OtaServer.Jobs;
using OtaServer.Store;
using OtaServer.Targets;

namespace OtaServer.Deltas;

public sealed record StaticDeltasRequest(
    string? ByTag = null,
    IReadOnlyList<long>? From = null,
    string? HardwareId = null,
    bool DryRun = false);

public sealed record StaticDeltasResponse(
    long To,
    string Repository,
    bool DryRun,
    IReadOnlyList<PlannedDelta> Deltas,
    IReadOnlyList<OrphanVersion> Orphans,
    int DevicesOnUnknownVersions,
    JobSummary? Job);

/// <summary>Static-delta planning for a target (admin scope): which deltas the devices of a tag need, and one job that makes the missing ones.</summary>
internal static class StaticDeltasEndpoints
{
    public static void Map(IEndpointRouteBuilder app)
    {
        app.MapPost("/api/v1/targets/{to:long}/static-deltas", StaticDeltasAsync).WithTags("Targets").RequireAuthorization(Scopes.Admin).WithName("PlanStaticDeltas")
            .WithSummary("Plans the static deltas a target needs; unless dryRun, queues one job that generates the missing ones (202 + job URL).")
            .Accepts<StaticDeltasRequest>("application/json");
    }

    private static async Task<Results<Ok<StaticDeltasResponse>, Accepted<StaticDeltasResponse>, ProblemHttpResult>> StaticDeltasAsync(
        long to, HttpRequest http, TargetCatalog catalog, DeltaPlanner planner, IJobQueue queue, IJobStore jobs, CancellationToken ct)
    {
        var (req, problem) = await JsonBody.ReadAsync<StaticDeltasRequest>(http, ct);
        if (problem is not null)
            return problem;
        if (req!.ByTag is not null && Names.CheckTags([req.ByTag], "byTag") is { } badTag)
            return Problems.BadRequest(badTag);
        if (req.HardwareId is not null && Names.CheckHardwareIds([req.HardwareId], "hardwareId") is { } badHw)
            return Problems.BadRequest(badHw);
        var from = req.From ?? [];
        var notLower = from.Where(v => v >= to).ToList();
        if (notLower.Count > 0)
            return Problems.BadRequest($"'from' version {notLower[0]} is not lower than the target version {to}.");
        if (req.ByTag is null && from.Count == 0)
            return Problems.BadRequest("Say which versions to start from: 'byTag' (versions the devices following the tag run) and/or 'from' (explicit versions).");
        // Every target of the version (one per hardware id) unless 'hardwareId' narrows it: one run serves devices of all of them.
        var versionTargets = (await catalog.GetAsync(ct)).WithVersion(to, null, req.HardwareId).ToList();
        if (versionTargets.Count == 0)
        {
            return Problems.NotFound($"No target with version {to}" + (req.HardwareId is null ? "" : $" for hardware id '{req.HardwareId}'") +
                ". List targets with GET /api/v1/targets (otactl targets list).");
        }

        if (versionTargets.Select(t => t.Repository).Distinct(StringComparer.Ordinal).Count() > 1)
            return Problems.Conflict($"Version {to} has targets in several repositories: add 'hardwareId' to choose one.");
        var target = versionTargets[0];
        var planned = new List<PlannedDelta>();
        var orphans = new List<OrphanVersion>();
        var unknownDevices = 0;
        foreach (var t in versionTargets)
        {
            var plan = await planner.PlanAsync(t, req.ByTag, from, req.HardwareId, ct);
            planned.AddRange(plan.Deltas.Where(d => !planned.Any(p => p.FromCommit == d.FromCommit && p.ToCommit == d.ToCommit)));
            orphans.AddRange(plan.Orphans.Where(o => !orphans.Any(x => x.Version == o.Version)));
            unknownDevices = Math.Max(unknownDevices, plan.DevicesOnUnknownVersions);
        }
        var response = new StaticDeltasResponse(to, target.Repository, req.DryRun, planned, orphans, unknownDevices, null);
        var missing = planned.Where(d => !d.Exists).ToList();
        if (req.DryRun || missing.Count == 0)
            return TypedResults.Ok(response);
        var pairs = missing.Select(d => new DeltaPair(d.FromCommit, d.ToCommit, d.From, d.To)).ToList();
        var (job, _) = await StaticDeltasJob.EnqueueAsync(queue, target.Repository, pairs, ct);
        var record = await jobs.GetAsync(job.Id, ct);
        return TypedResults.Accepted(JobsEndpoints.Url(job.Id), response with { Job = JobsEndpoints.Summary(record!) });
    }
}
