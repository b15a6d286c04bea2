using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using OtaServer.Auth;
using OtaServer.Http;
using OtaServer.Jobs;
using OtaServer.OSTree;
using OtaServer.Repositories;

namespace OtaServer.Deltas;

/// <summary>Request to generate one delta; <c>from</c>/<c>to</c> are commit checksums or ref names (<c>from</c> null = from scratch).</summary>
public sealed record CreateDeltaRequest(string? From, string? To);

/// <summary>202 answer: the job that generates the delta.</summary>
public sealed record DeltaJobAccepted(string JobId, string JobUrl, string LogUrl, bool Existing, string? From, string To);

/// <summary>The admin API of static deltas (scope admin).</summary>
internal static class DeltasEndpoints
{
    public static IEndpointRouteBuilder MapDeltasEndpoints(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/v1/repos/{repo}/deltas").WithTags("Deltas").RequireAuthorization(Scopes.Admin);
        group.MapPost("", CreateAsync).WithName("CreateDelta")
            .WithSummary("Generate a static delta in a background job (202 + job URL); an existing delta answers 200 with its stats.")
            .Produces<DeltaJobAccepted>(StatusCodes.Status202Accepted)
            .Produces<DeltaStats>()
            .ProducesProblem(StatusCodes.Status400BadRequest).ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status422UnprocessableEntity);
        group.MapGet("", List).WithName("ListDeltas").WithSummary("Published deltas with their stats.");
        group.MapGet("/{name}", Get).WithName("GetDelta").WithSummary("One published delta, named FROM-TO or TO (from scratch).")
            .ProducesProblem(StatusCodes.Status404NotFound);
        group.MapDelete("/{name}", DeleteAsync).WithName("DeleteDelta")
            .WithSummary("Unlist a delta from the summary and index now; its files are removed after the grace period.")
            .ProducesProblem(StatusCodes.Status404NotFound);
        return app;
    }

    private static async Task<Results<Accepted<DeltaJobAccepted>, Ok<DeltaStats>, ProblemHttpResult>> CreateAsync(string repo, [FromBody] CreateDeltaRequest request, DeltaService deltas,
        RepositoryRegistry registry, IJobQueue jobs, CancellationToken cancellationToken)
    {
        if (!registry.TryGet(repo, out var repository))
            return Problems.UnknownRepository(repo, registry.Names);
        if (string.IsNullOrWhiteSpace(request.To))
            return Problems.Problem(400, "Missing 'to'", "Send {\"from\": \"<commit|ref|null>\", \"to\": \"<commit|ref>\"}.");
        var archive = repository.Reader;
        if (Resolve(archive, request.To) is not { } to)
            return Problems.Problem(422, "Unknown 'to'", $"'{request.To}' is neither a commit nor a ref of repository '{repo}'.");
        Checksum? from = null;
        if (!string.IsNullOrWhiteSpace(request.From))
        {
            if (Resolve(archive, request.From) is not { } f)
                return Problems.Problem(422, "Unknown 'from'", $"'{request.From}' is neither a commit nor a ref of repository '{repo}'.");
            from = f;
        }
        try
        {
            deltas.Validate(repo, from?.ToString(), to.ToString());
        }
        catch (DeltaRequestException e)
        {
            return Problems.Problem(e.Status, e.Title, e.Message);
        }
        if (deltas.Find(repo, from?.ToString(), to.ToString()) is { } existing)
            return TypedResults.Ok(existing);
        var (job, created) = await StaticDeltasJob.EnqueueAsync(jobs, repo, [new DeltaPair(from?.ToString(), to.ToString())], cancellationToken);
        var url = $"/api/v1/jobs/{job.Id}";
        return TypedResults.Accepted(url, new DeltaJobAccepted(job.Id, url, url + "/log", !created, from?.ToString(), to.ToString()));
    }

    private static Results<Ok<IReadOnlyList<DeltaStats>>, ProblemHttpResult> List(string repo, RepositoryRegistry registry, DeltaService deltas) =>
        registry.TryGet(repo, out _) ? TypedResults.Ok(deltas.List(repo)) : Problems.UnknownRepository(repo, registry.Names);

    private static Results<Ok<DeltaStats>, ProblemHttpResult> Get(string repo, string name, RepositoryRegistry registry, DeltaService deltas)
    {
        if (!registry.TryGet(repo, out _))
            return Problems.UnknownRepository(repo, registry.Names);
        if (!DeltaName.TryParse(name, out var n))
            return BadName(name);
        return deltas.Find(repo, n.From?.ToString(), n.To.ToString()) is { } stats
            ? TypedResults.Ok(stats)
            : Problems.Problem(404, "No such delta", $"Repository '{repo}' has no published delta {name}.");
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> DeleteAsync(string repo, string name, RepositoryRegistry registry, DeltaService deltas, CancellationToken cancellationToken)
    {
        if (!registry.TryGet(repo, out _))
            return Problems.UnknownRepository(repo, registry.Names);
        if (!DeltaName.TryParse(name, out var n))
            return BadName(name);
        return await deltas.DeleteAsync(repo, n, cancellationToken)
            ? TypedResults.NoContent()
            : Problems.Problem(404, "No such delta", $"Repository '{repo}' has no published delta {name}.");
    }

    private static ProblemHttpResult BadName(string name) => Problems.Problem(400, "Invalid delta name",
        $"'{name}' is not a delta name; use FROMHEX-TOHEX, or TOHEX for a delta from scratch.");

    private static Checksum? Resolve(ArchiveRepository repo, string text)
    {
        if (Checksum.TryParse(text, out var c))
            return c;
        return ArchiveRepository.IsValidRefName(text) ? repo.ResolveRef(text) : null;
    }
}
