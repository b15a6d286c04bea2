using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using OtaServer.Auth;
using OtaServer.Http;
using OtaServer.OSTree;
using OtaServer.Repositories;

namespace OtaServer.Ingest;

public sealed record MissingObjectsRequest(IReadOnlyList<string>? Objects);

public sealed record MissingObjectsResponse(IReadOnlyList<string> Missing);

public sealed record RefUpdateRequest(string? Commit, string? Expected, bool Force = false);

public sealed record RefInfo(string Name, string Commit);

/// <summary>The push API: which objects are missing, upload a tar of objects, move a ref.</summary>
internal static class IngestEndpoints
{
    /// <summary>Upper bound on names in one missing-objects query.</summary>
    public const int MaxQueryNames = 1_000_000;

    public static IEndpointRouteBuilder MapIngestEndpoints(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/v1/repos/{repo}").WithTags("Ingest");
        group.MapPost("/objects/missing", FindMissingAsync).RequireAuthorization(Scopes.Push)
            .WithName("FindMissingObjects")
            .WithSummary("Which of these objects (\"<64 hex>.<commit|dirtree|dirmeta|filez|commitmeta>\") the repository lacks.");
        group.MapPost("/objects", UploadAsync).RequireAuthorization(Scopes.Push)
            .WithName("UploadObjects")
            .WithSummary("Upload a tar stream (plain, zstd or gzip) of archive-repository object files; every object is verified before it is stored.")
            .WithDescription("The body is the tar stream itself (any Content-Type, e.g. application/x-tar); " +
                "compression is announced by Content-Encoding: zstd|gzip or recognised by its magic bytes.")
            .ProducesProblem(StatusCodes.Status422UnprocessableEntity)
            .ProducesProblem(StatusCodes.Status400BadRequest);
        group.MapGet("/refs", ListRefs).RequireAuthorization(Scopes.Push)
            .WithName("ListRefs")
            .WithSummary("List the repository's refs and the commits they point at.");
        group.MapPut("/refs/{**ref}", UpdateRefAsync).RequireAuthorization(Scopes.Push)
            .WithName("UpdateRef")
            .WithSummary("Move a ref with compare-and-swap once every object reachable from the commit is present; regenerates the summary.")
            .ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status422UnprocessableEntity);
        return app;
    }

    private static Results<Ok<MissingObjectsResponse>, ProblemHttpResult> FindMissingAsync(string repo, [FromBody] MissingObjectsRequest request, RepositoryRegistry registry)
    {
        if (!registry.TryGet(repo, out var repository))
            return Problems.UnknownRepository(repo, registry.Names);
        if (request.Objects is null)
            return Problems.Problem(400, "Invalid request", "Send {\"objects\": [\"<64 hex>.<type>\", …]}.");
        if (request.Objects.Count > MaxQueryNames)
            return Problems.Problem(400, "Too many names", $"Ask about at most {MaxQueryNames} objects per request.");
        var missing = new List<string>();
        foreach (var text in request.Objects)
        {
            if (!ObjectName.TryParse(text, out var name))
            {
                return Problems.Problem(400, "Invalid object name",
                    $"'{Truncate(text)}' is not an object name; expected \"<64 hex>.<commit|dirtree|dirmeta|filez|commitmeta>\".");
            }

            if (!repository.HasObject(name))
                missing.Add(name.ToString());
        }
        return TypedResults.Ok(new MissingObjectsResponse(missing));
    }

    private static async Task<Results<Ok<ImportResult>, ProblemHttpResult>> UploadAsync(string repo, HttpContext http, RepositoryRegistry registry, ObjectImporter importer, CancellationToken cancellationToken)
    {
        if (!registry.TryGet(repo, out var repository))
            return Problems.UnknownRepository(repo, registry.Names);
        // Uploads are streamed to disk; their size is not limited by memory.
        if (http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
            limit.MaxRequestBodySize = null;
        try
        {
            var result = await importer.ImportAsync(repository, http.Request.Body, http.Request.Headers.ContentEncoding, cancellationToken);
            return TypedResults.Ok(result);
        }
        catch (IngestException e)
        {
            return ToProblem(e);
        }
        catch (Exception e) when (e is BadHttpRequestException or IOException && !cancellationToken.IsCancellationRequested)
        {
            return Problems.Problem(400, "Upload interrupted",
                $"The upload could not be read to its end ({e.Message}). {ObjectImporter.KeptNote}");
        }
    }

    private static Results<Ok<IReadOnlyList<RefInfo>>, ProblemHttpResult> ListRefs(string repo, RepositoryRegistry registry, RefUpdater refs)
    {
        if (!registry.TryGet(repo, out var repository))
            return Problems.UnknownRepository(repo, registry.Names);
        return TypedResults.Ok(refs.List(repository));
    }

    private static async Task<Results<Ok<RefInfo>, ProblemHttpResult>> UpdateRefAsync(string repo, string @ref, [FromBody] RefUpdateRequest request,
        RepositoryRegistry registry, RefUpdater refs, CancellationToken cancellationToken)
    {
        if (!registry.TryGet(repo, out var repository))
            return Problems.UnknownRepository(repo, registry.Names);
        try
        {
            var info = await refs.UpdateAsync(repository, @ref, request, cancellationToken);
            return TypedResults.Ok(info);
        }
        catch (IngestException e)
        {
            return ToProblem(e);
        }
    }

    internal static ProblemHttpResult ToProblem(IngestException e)
    {
        var extensions = new Dictionary<string, object?>();
        if (e.Objects is { Count: > 0 } objects)
            extensions["objects"] = objects.Take(1000).ToList();
        return Problems.Problem(e.Status, e.Title, e.Message, extensions);
    }

    private static string Truncate(string? s) => s is null ? "null" : s.Length <= 80 ? s : s[..80] + "…";
}
