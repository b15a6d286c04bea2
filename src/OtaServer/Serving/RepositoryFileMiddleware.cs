namespace OtaServer.Serving;

/// <summary>
/// The hot path of the origin: an anonymous <c>GET</c>/<c>HEAD /repos/{repo}/{path}</c> goes straight to
/// <see cref="RepositoryFileServer"/>, ahead of routing, authentication and authorization, which have nothing
/// to decide for it. Added only while repository files are anonymous (otherwise the route with its
/// authorization policy serves them). Anything else, and paths routing would not match ("/repos/",
/// an empty repository segment), goes on down the pipeline unchanged.
/// </summary>
internal sealed class RepositoryFileMiddleware(RequestDelegate next, RepositoryFileServer server)
{
    private const string Prefix = "/repos/";

    public Task InvokeAsync(HttpContext context)
    {
        var request = context.Request;
        var path = request.Path.Value;
        if (path is null || !path.StartsWith(Prefix, StringComparison.Ordinal)
            || !(HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method)))
        {
            return next(context);
        }

        var slash = path.IndexOf('/', Prefix.Length);
        var repository = slash < 0 ? path[Prefix.Length..] : path[Prefix.Length..slash];
        if (repository.Length == 0)
            return next(context);
        return server.ServeAsync(context, repository, slash < 0 ? string.Empty : path[(slash + 1)..]);
    }
}
