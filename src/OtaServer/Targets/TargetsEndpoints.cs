using Microsoft.AspNetCore.Http.HttpResults;
using OtaServer.Auth;
using OtaServer.Http;
using OtaServer.Repositories;
using OtaServer.Store;

namespace OtaServer.Targets;

public sealed record CreateTargetRequest(
    long? Version,
    string? Ref,
    string? Commit = null,
    string? Repository = null,
    IReadOnlyList<string>? Tags = null,
    IReadOnlyList<string>? HardwareIds = null,
    bool Force = false,
    bool DryRun = false);

public sealed record TargetDto(
    long Version,
    string Repository,
    string Ref,
    string Commit,
    IReadOnlyList<string> HardwareIds,
    IReadOnlyList<string> Tags,
    DateTimeOffset CreatedAt)
{
    internal static TargetDto From(Target t) => new(t.Version, t.Repository, t.Ref, t.Commit, t.HardwareIds, t.Tags, t.CreatedAt);
}

public sealed record TagTargetsRequest(
    IReadOnlyList<long>? Versions,
    IReadOnlyList<string>? Tags,
    bool Append = false,
    bool DryRun = false,
    string? Repository = null,
    string? HardwareId = null,
    bool Force = false);

public sealed record TagChange(long Version, string Repository, IReadOnlyList<string> HardwareIds, IReadOnlyList<string> Before, IReadOnlyList<string> After);

public sealed record TagTargetsResponse(bool DryRun, IReadOnlyList<TagChange> Targets);

/// <summary>Targets: create (push scope), list, show, delete and tag (admin scope). Static-delta planning is in Deltas/.</summary>
internal static class TargetsEndpoints
{
    public static void Map(IEndpointRouteBuilder app)
    {
        var g = app.MapGroup("/api/v1/targets").WithTags("Targets");
        g.MapPost("", CreateAsync).RequireAuthorization(Scopes.Push).WithName("CreateTarget")
            .WithSummary("Creates a target: a numbered version of a repository ref. The commit must be complete in the repository.")
            .Accepts<CreateTargetRequest>("application/json");
        g.MapGet("", ListAsync).RequireAuthorization(Scopes.Admin).WithName("ListTargets").WithSummary("Targets, oldest version first.");
        g.MapGet("{version:long}", GetAsync).RequireAuthorization(Scopes.Admin).WithName("GetTarget");
        g.MapDelete("{version:long}", DeleteAsync).RequireAuthorization(Scopes.Admin).WithName("DeleteTarget")
            .WithSummary("Deletes a target (its commit stays in the repository). Devices that run it become orphans for delta planning.");
        g.MapPost("tags", TagAsync).RequireAuthorization(Scopes.Admin).WithName("TagTargets")
            .WithSummary("Sets (or with append, adds) tags on the targets of the given versions.")
            .Accepts<TagTargetsRequest>("application/json");
    }

    private static async Task<Results<Created<TargetDto>, Ok<TargetDto>, ProblemHttpResult>> CreateAsync(
        HttpRequest http, RepositoryRegistry registry, IRepositoryContent content, IFleetStore store, TargetCatalog catalog, ITagOwners waves, TimeProvider time, CancellationToken ct)
    {
        var (req, problem) = await JsonBody.ReadAsync<CreateTargetRequest>(http, ct);
        if (problem is not null)
            return problem;
        if (req!.Version is not { } version || version < 0)
            return Problems.BadRequest("'version' is required: a whole number of 0 or more, unique per repository and hardware id.");
        var repo = req.Repository ?? RepositoryRegistry.DefaultRepository;
        if (!registry.TryGet(repo, out _))
            return Problems.UnknownRepository(repo, registry.Names);
        if (!Names.IsRef(req.Ref))
            return Problems.BadRequest($"'ref' is required and must be a valid OSTree ref name (got '{req.Ref}'), e.g. 'os/x86_64/main'.");
        if (req.Commit is not null && !Names.IsCommit(req.Commit))
            return Problems.BadRequest($"'commit' must be 64 lowercase hex characters (got '{req.Commit}').");
        var tags = req.Tags ?? [];
        var hardware = req.HardwareIds ?? [];
        if ((Names.CheckTags(tags) ?? Names.CheckHardwareIds(hardware)) is { } bad)
            return Problems.BadRequest(bad);
        // Checked before the content, and alone in a dry run: `otactl push --version` asks this before it uploads
        // or moves the ref, so a refused version changes nothing.
        if (Conflicting((await catalog.GetAsync(ct)).WithVersion(version, repo), hardware) is { } existing)
            return Problems.Conflict(ConflictMessage(version, repo, existing));
        // Tags owned by an open wave are refused in the dry run too, so `push -T` fails before it uploads.
        if (!req.Force && await waves.FindOpenOwnerAsync(tags, ct) is { } owner)
            return TagOwnerProblem(owner, "\"force\": true; otactl push --force-tags");
        if (req.DryRun)
            return TypedResults.Ok(new TargetDto(version, repo, req.Ref!, req.Commit ?? "", hardware, tags, time.GetUtcNow()));
        var commit = req.Commit ?? content.ResolveRef(repo, req.Ref!);
        if (commit is null)
            return Problems.NotFound($"Ref '{req.Ref}' does not exist in repository '{repo}'. Push the commit first (otactl push), or pass 'commit'.");
        if (!content.CommitExists(repo, commit))
            return Problems.NotFound($"Commit {commit} is not in repository '{repo}'. Push it first (otactl push).");
        var missing = content.FindMissingObjects(repo, commit);
        if (missing.Count > 0)
            return Problems.Conflict($"Commit {commit} is incomplete in repository '{repo}': {missing.Count} object(s) missing (first: {missing[0]}). Finish the push, then create the target.");
        try
        {
            var target = await store.AddTargetAsync(new NewTarget(repo, version, req.Ref!, commit, hardware, tags, time.GetUtcNow()), ct);
            await catalog.ReloadAsync(ct);
            return TypedResults.Created($"/api/v1/targets/{version}", TargetDto.From(target));
        }
        catch (StoreConflictException e)
        {
            return Problems.Conflict(e.Message);
        }
    }

    /// <summary>The existing target a new one of these hardware ids would collide with (the store's rule: overlapping or empty hardware ids).</summary>
    private static Target? Conflicting(IEnumerable<Target> sameVersion, IReadOnlyList<string> hardware) =>
        sameVersion.FirstOrDefault(e => e.HardwareIds.Count == 0 || hardware.Count == 0 ||
            e.HardwareIds.Intersect(hardware, StringComparer.Ordinal).Any());

    private static string ConflictMessage(long version, string repo, Target existing) =>
        $"Target version {version} already exists in repository '{repo}' for " +
        (existing.HardwareIds.Count == 0 ? "any hardware" : "hardware ids " + string.Join(", ", existing.HardwareIds)) +
        $" (commit {existing.Commit}). Use a new version number.";

    private static async Task<Results<Ok<IReadOnlyList<TargetDto>>, ProblemHttpResult>> ListAsync(
        TargetCatalog catalog, string? tag, string? hardwareId, string? repository, CancellationToken ct)
    {
        if (tag is not null && Names.CheckTags([tag]) is { } badTag)
            return Problems.BadRequest(badTag);
        if (hardwareId is not null && Names.CheckHardwareIds([hardwareId]) is { } badHw)
            return Problems.BadRequest(badHw);
        var snapshot = await catalog.GetAsync(ct);
        var list = snapshot.All.Where(t =>
            (tag is null || t.Tags.Contains(tag, StringComparer.Ordinal)) &&
            (hardwareId is null || t.HardwareIds.Contains(hardwareId, StringComparer.Ordinal)) &&
            (repository is null || t.Repository == repository));
        return TypedResults.Ok<IReadOnlyList<TargetDto>>([.. list.Select(TargetDto.From)]);
    }

    /// <summary>The one target of a version, or a 404/409 problem.</summary>
    internal static async Task<(Target? Target, ProblemHttpResult? Problem)> ResolveAsync(
        TargetCatalog catalog, long version, string? repository, string? hardwareId, CancellationToken ct)
    {
        var matches = (await catalog.GetAsync(ct)).WithVersion(version, repository, hardwareId).ToList();
        if (matches.Count == 0)
        {
            return (null, Problems.NotFound($"No target with version {version}" + (hardwareId is null ? "" : $" for hardware id '{hardwareId}'") +
                ". List targets with GET /api/v1/targets (otactl targets list)."));
        }

        if (matches.Count > 1)
        {
            return (null, Problems.Conflict($"Version {version} names {matches.Count} targets (" +
                string.Join("; ", matches.Select(t => $"{t.Repository} [{string.Join(",", t.HardwareIds)}]")) + "): add 'hardwareId' (and 'repository') to choose one."));
        }

        return (matches[0], null);
    }

    private static async Task<Results<Ok<TargetDto>, ProblemHttpResult>> GetAsync(
        long version, string? repository, string? hardwareId, TargetCatalog catalog, CancellationToken ct)
    {
        var (target, problem) = await ResolveAsync(catalog, version, repository, hardwareId, ct);
        return problem ?? (Results<Ok<TargetDto>, ProblemHttpResult>)TypedResults.Ok(TargetDto.From(target!));
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> DeleteAsync(
        long version, string? repository, string? hardwareId, TargetCatalog catalog, IFleetStore store, CancellationToken ct)
    {
        var (target, problem) = await ResolveAsync(catalog, version, repository, hardwareId, ct);
        if (problem is not null)
            return problem;
        await store.DeleteTargetAsync(target!.Id, ct);
        await catalog.ReloadAsync(ct);
        return TypedResults.NoContent();
    }

    private static async Task<Results<Ok<TagTargetsResponse>, ProblemHttpResult>> TagAsync(
        HttpRequest http, IFleetStore store, TargetCatalog catalog, ITagOwners waves, CancellationToken ct)
    {
        var (req, problem) = await JsonBody.ReadAsync<TagTargetsRequest>(http, ct);
        if (problem is not null)
            return problem;
        if (req!.Versions is not { Count: > 0 } versions)
            return Problems.BadRequest("'versions' is required: the target versions to tag, e.g. [42].");
        if (req.Tags is not { } tags)
            return Problems.BadRequest("'tags' is required: the tags to set (or add, with \"append\": true), e.g. [\"master\",\"promoted\"].");
        if (Names.CheckTags(tags) is { } badTag)
            return Problems.BadRequest(badTag);
        if (req.HardwareId is not null && Names.CheckHardwareIds([req.HardwareId]) is { } badHw)
            return Problems.BadRequest(badHw);
        var snapshot = await catalog.GetAsync(ct);
        var changes = new List<TagChange>();
        var updates = new Dictionary<long, IReadOnlyList<string>>();
        var unknown = new List<long>();
        foreach (var v in versions.Distinct())
        {
            var matches = snapshot.WithVersion(v, req.Repository, req.HardwareId).Where(t => req.HardwareId is null || t.HardwareIds.Count == 0 || t.HardwareIds.Contains(req.HardwareId)).ToList();
            if (matches.Count == 0)
                unknown.Add(v);
            foreach (var t in matches)
            {
                IReadOnlyList<string> after = req.Append
                    ? [.. t.Tags.Union(tags, StringComparer.Ordinal).Order(StringComparer.Ordinal)]
                    : [.. tags.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)];
                changes.Add(new TagChange(t.Version, t.Repository, t.HardwareIds, t.Tags, after));
                updates[t.Id] = after;
            }
        }
        if (unknown.Count > 0)
            return Problems.NotFound($"No target with version {string.Join(", ", unknown)}; nothing was tagged. List targets with GET /api/v1/targets.");
        // A tag added to or removed from a target moves it; tags a target keeps do not.
        var moved = changes.SelectMany(c => c.Before.Except(c.After, StringComparer.Ordinal).Concat(c.After.Except(c.Before, StringComparer.Ordinal)));
        if (!req.Force && await waves.FindOpenOwnerAsync(moved, ct) is { } owner)
            return TagOwnerProblem(owner, "\"force\": true; otactl targets tag --force");
        if (!req.DryRun)
        {
            await store.SetTargetTagsAsync(updates, ct);
            await catalog.ReloadAsync(ct);
        }
        return TypedResults.Ok(new TagTargetsResponse(req.DryRun, changes));
    }

    /// <summary>409: moving the tag would serve the new target to every device of the tag behind its wave's back.</summary>
    private static ProblemHttpResult TagOwnerProblem(TagOwner owner, string forceHint) => TypedResults.Problem(
        $"Tag '{owner.Tag}' belongs to wave '{owner.Wave}' (version {owner.Version}, {owner.Status}): moving it now would serve the new target " +
        $"to every device of the tag behind the wave's back. Complete or cancel the wave first (otactl waves complete|cancel {owner.Wave}), " +
        $"or force it ({forceHint}).",
        statusCode: StatusCodes.Status409Conflict, title: "Tag owned by an open wave",
        extensions: new Dictionary<string, object?> { ["wave"] = owner.Wave, ["tag"] = owner.Tag, ["waveVersion"] = owner.Version });
}
