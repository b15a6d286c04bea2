using Microsoft.AspNetCore.Http.HttpResults;

namespace OtaServer.Http;

/// <summary>ProblemDetails (RFC 9457) answers shared by every feature: one wording per problem.</summary>
internal static class Problems
{
    public const string UnknownRepositoryTitle = "Unknown repository";

    /// <summary>The one wording of "no such repository" (also used by the file server, which writes its own responses).</summary>
    public static string UnknownRepositoryDetail(string repository, IEnumerable<string> configured) =>
        $"No repository named '{repository}' is served here; configured: {string.Join(", ", configured)}. Add it to OtaServer:Repositories.";

    public static ProblemHttpResult UnknownRepository(string repository, IEnumerable<string> configured) =>
        TypedResults.Problem(UnknownRepositoryDetail(repository, configured), statusCode: StatusCodes.Status404NotFound, title: UnknownRepositoryTitle);

    public static ProblemHttpResult Problem(int status, string title, string detail, IDictionary<string, object?>? extensions = null) =>
        TypedResults.Problem(detail, statusCode: status, title: title, extensions: extensions);

    public static ProblemHttpResult BadRequest(string detail) =>
        TypedResults.Problem(detail, statusCode: StatusCodes.Status400BadRequest, title: "Invalid request");

    public static ProblemHttpResult NotFound(string detail) =>
        TypedResults.Problem(detail, statusCode: StatusCodes.Status404NotFound, title: "Not found");

    public static ProblemHttpResult Conflict(string detail) =>
        TypedResults.Problem(detail, statusCode: StatusCodes.Status409Conflict, title: "Conflict");

    public static ProblemHttpResult Unavailable(string detail) =>
        TypedResults.Problem(detail, statusCode: StatusCodes.Status503ServiceUnavailable, title: "Service unavailable");

    public static ProblemHttpResult JobNotFound(string id) => NotFound($"No job '{id}'. List jobs with GET /api/v1/jobs.");
}
