namespace OtaServer.Repositories;

/// <summary>ProblemDetails helpers shared by the repository-scoped API routes.</summary>
internal static class RepositoryProblems
{
    public static IResult UnknownRepository(string repo) => TypedResults.Problem(
        statusCode: StatusCodes.Status404NotFound,
        title: "Unknown repository",
        detail: $"No repository named '{repo}' is configured. Add it to OtaServer:Repositories.");

    public static IResult Problem(int status, string title, string detail, IDictionary<string, object?>? extensions = null) =>
        TypedResults.Problem(statusCode: status, title: title, detail: detail, extensions: extensions);
}
