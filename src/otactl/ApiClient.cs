using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;

namespace OtaCtl;

/// <summary>Process exit codes of otactl.</summary>
public static class ExitCodes
{
    public const int Ok = 0;
    /// <summary>The operation ran and failed (e.g. a job ended Failed or Cancelled).</summary>
    public const int Failed = 1;
    public const int Usage = 2;
    public const int Unreachable = 3;
    public const int Unauthorized = 4;
    public const int NotFound = 5;
    public const int Conflict = 6;
    public const int ServerError = 7;
}

/// <summary>An API call answered with an error; <see cref="Exception.Message"/> is fit to show a person.</summary>
public sealed class ApiException(HttpStatusCode? status, string message, int exitCode) : Exception(message)
{
    public HttpStatusCode? Status { get; } = status;

    public int ExitCode { get; } = exitCode;
}

/// <summary>
/// HTTP access to an OtaServer for every otactl command: base URL from <c>--server</c> or <c>OTA_SERVER</c>,
/// bearer token from <c>--token</c> or <c>OTA_TOKEN</c>; error answers (RFC 9457 ProblemDetails) become
/// <see cref="ApiException"/> with a clear message and an exit code.
/// </summary>
public sealed class ApiClient : IDisposable
{
    public const string ServerVariable = "OTA_SERVER";
    public const string TokenVariable = "OTA_TOKEN";

    /// <summary>Timeout of ordinary requests (streams like a log tail have none).</summary>
    public static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(100);

    /// <summary>Web defaults, string enums; generated serializers only (<see cref="OtactlJson"/>).</summary>
    public static JsonSerializerOptions Json => OtactlJson.Default.Options;

    public ApiClient(Uri server, string? token, HttpMessageHandler? handler = null)
    {
        Server = server.AbsoluteUri.EndsWith('/') ? server : new Uri(server.AbsoluteUri + "/");
        Http = handler is null ? new HttpClient() : new HttpClient(handler, disposeHandler: false);
        Http.BaseAddress = Server;
        Http.Timeout = Timeout.InfiniteTimeSpan;
        if (!string.IsNullOrEmpty(token))
            Http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        Http.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("otactl", "1.0"));
    }

    public Uri Server { get; }

    /// <summary>The underlying client (base address = server). Prefer <see cref="SendAsync"/> for error handling.</summary>
    public HttpClient Http { get; }

    /// <summary>Builds a client from the option values, falling back to <c>OTA_SERVER</c>/<c>OTA_TOKEN</c>.</summary>
    public static ApiClient Create(string? server, string? token, HttpMessageHandler? handler = null)
    {
        server = string.IsNullOrWhiteSpace(server) ? Environment.GetEnvironmentVariable(ServerVariable) : server;
        token = string.IsNullOrWhiteSpace(token) ? Environment.GetEnvironmentVariable(TokenVariable) : token;
        if (string.IsNullOrWhiteSpace(server))
            throw new ApiException(null, $"No server given: pass --server URL or set {ServerVariable}.", ExitCodes.Usage);
        if (!Uri.TryCreate(server, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
            throw new ApiException(null, $"Server '{server}' is not an http(s) URL, e.g. http://ota.example.com:8080.", ExitCodes.Usage);
        return new ApiClient(uri, token?.Trim(), handler);
    }

    public async Task<T> GetAsync<T>(string path, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        return await SendForJsonAsync<T>(request, cancellationToken);
    }

    public async Task<T> PostAsync<T>(string path, object body, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = JsonBody(body) };
        return await SendForJsonAsync<T>(request, cancellationToken);
    }

    /// <summary>A JSON request body, serialized with the generated metadata of its type.</summary>
    public static HttpContent JsonBody(object body) => JsonContent.Create(body, Json.GetTypeInfo(body.GetType()));

    public async Task DeleteAsync(string path, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Delete, path);
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(RequestTimeout);
        using var _ = await SendAsync(request, HttpCompletionOption.ResponseContentRead, cts.Token);
    }

    private async Task<T> SendForJsonAsync<T>(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(RequestTimeout);
        using var response = await SendAsync(request, HttpCompletionOption.ResponseContentRead, cts.Token);
        try
        {
            return await response.Content.ReadFromJsonAsync((System.Text.Json.Serialization.Metadata.JsonTypeInfo<T>)Json.GetTypeInfo(typeof(T)), cts.Token)
                ?? throw new ApiException(response.StatusCode, $"{request.Method} {request.RequestUri}: empty answer from the server.", ExitCodes.ServerError);
        }
        catch (JsonException e)
        {
            throw new ApiException(response.StatusCode, $"{request.Method} {request.RequestUri}: the server's answer is not the expected JSON ({e.Message}). Is --server an OtaServer?", ExitCodes.ServerError);
        }
    }

    /// <summary>Sends a request; a non-success answer throws <see cref="ApiException"/>, a network failure throws <see cref="ApiException"/> with <see cref="ExitCodes.Unreachable"/>.</summary>
    public async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, HttpCompletionOption completion, CancellationToken cancellationToken)
    {
        HttpResponseMessage response;
        try
        {
            response = await Http.SendAsync(request, completion, cancellationToken);
        }
        catch (HttpRequestException e)
        {
            throw new ApiException(null, $"Cannot reach the server at {Server}: {e.Message}", ExitCodes.Unreachable);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new ApiException(null, $"The server at {Server} did not answer in time.", ExitCodes.Unreachable);
        }
        if (response.IsSuccessStatusCode)
            return response;
        using (response)
            throw await ToExceptionAsync(request, response, cancellationToken);
    }

    private static async Task<ApiException> ToExceptionAsync(HttpRequestMessage request, HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var status = response.StatusCode;
        string? title = null, detail = null;
        var body = "";
        try
        {
            body = await response.Content.ReadAsStringAsync(cancellationToken);
            if (body.Length > 0 && body.TrimStart().StartsWith('{'))
            {
                using var doc = JsonDocument.Parse(body);
                if (doc.RootElement.TryGetProperty("title", out var t) && t.ValueKind == JsonValueKind.String)
                    title = t.GetString();
                if (doc.RootElement.TryGetProperty("detail", out var d) && d.ValueKind == JsonValueKind.String)
                    detail = d.GetString();
            }
        }
        catch (JsonException)
        {
        }
        catch (HttpRequestException)
        {
        }
        var what = detail ?? title ?? (body.Length is > 0 and < 300 ? body.Trim() : response.ReasonPhrase ?? "error");
        var hint = status switch
        {
            HttpStatusCode.Unauthorized => $" Pass a valid token with --token or {TokenVariable}.",
            HttpStatusCode.Forbidden => " Use a token with the scope this command needs (admin for most commands, push for pushing).",
            _ => "",
        };
        var code = status switch
        {
            HttpStatusCode.BadRequest => ExitCodes.Usage,
            HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden => ExitCodes.Unauthorized,
            HttpStatusCode.NotFound => ExitCodes.NotFound,
            HttpStatusCode.Conflict => ExitCodes.Conflict,
            _ => ExitCodes.ServerError,
        };
        return new ApiException(status, $"{what}{hint} (HTTP {(int)status} from {request.Method} {request.RequestUri})", code);
    }

    public void Dispose() => Http.Dispose();
}
