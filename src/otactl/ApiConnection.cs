using System.Net.Http.Headers;
using System.Text.Json;

namespace OtaCtl;

/// <summary>
/// HTTP access to the server: base URL from <c>--server</c> or <c>OTA_SERVER</c>, token from
/// <c>--token</c> or <c>OTA_TOKEN</c>; refusals are turned into <see cref="CliException"/>s carrying
/// the server's ProblemDetails title and detail.
/// </summary>
public sealed class ApiConnection : IDisposable
{
    private readonly HttpClient _http;

    public ApiConnection(HttpClient http) => _http = http;

    public HttpClient Http => _http;

    public static ApiConnection Create(string? server, string? token, HttpMessageHandler? handler = null)
    {
        server ??= Environment.GetEnvironmentVariable("OTA_SERVER");
        token ??= Environment.GetEnvironmentVariable("OTA_TOKEN");
        if (string.IsNullOrWhiteSpace(server))
            throw new CliException("No server given: use --server URL or set OTA_SERVER.", 2);
        if (!Uri.TryCreate(server.TrimEnd('/') + "/", UriKind.Absolute, out var baseUri) || baseUri.Scheme is not ("http" or "https"))
            throw new CliException($"'{server}' is not an http(s) URL.", 2);
        var http = handler is null ? new HttpClient() : new HttpClient(handler);
        http.BaseAddress = baseUri;
        http.Timeout = Timeout.InfiniteTimeSpan;
        if (!string.IsNullOrWhiteSpace(token))
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token.Trim());
        return new ApiConnection(http);
    }

    /// <summary>Sends a request; a non-success status becomes a <see cref="CliException"/> with the server's reason.</summary>
    public async Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, HttpContent? content, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(method, path) { Content = content };
        HttpResponseMessage response;
        try
        {
            response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        }
        catch (HttpRequestException e)
        {
            throw new CliException($"Cannot reach {_http.BaseAddress}: {e.Message}");
        }
        if (response.IsSuccessStatusCode)
            return response;
        var reason = await DescribeFailureAsync(response, cancellationToken);
        response.Dispose();
        throw new CliException($"The server refused {method} /{path}: {reason}", 3);
    }

    private static async Task<string> DescribeFailureAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var status = $"{(int)response.StatusCode} {response.ReasonPhrase}";
        var text = await response.Content.ReadAsStringAsync(cancellationToken);
        try
        {
            using var doc = JsonDocument.Parse(text);
            var root = doc.RootElement;
            var title = root.TryGetProperty("title", out var t) ? t.GetString() : null;
            var detail = root.TryGetProperty("detail", out var d) ? d.GetString() : null;
            return string.Join(": ", new[] { status, title, detail }.Where(s => !string.IsNullOrEmpty(s)));
        }
        catch (JsonException)
        {
            return string.IsNullOrWhiteSpace(text) ? status : $"{status}: {text.Trim()}";
        }
    }

    public void Dispose() => _http.Dispose();
}
