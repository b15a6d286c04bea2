namespace OtaServer.Ingest;

/// <summary>An ingest request refused for a reason the client can act on; becomes a ProblemDetails.</summary>
internal sealed class IngestException(int status, string title, string detail, IReadOnlyList<string>? objects = null)
    : Exception(detail)
{
    public int Status { get; } = status;
    public string Title { get; } = title;
    /// <summary>Object names the problem is about (bad or missing objects).</summary>
    public IReadOnlyList<string>? Objects { get; } = objects;
}
