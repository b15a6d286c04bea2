using System.CommandLine;

namespace OtaCtl;

/// <summary>
/// What every command shares: the output writers, the global <c>--server</c>/<c>--token</c> options,
/// and <see cref="RunAsync"/>, which builds the <see cref="ApiClient"/> and turns failures into messages and exit codes.
/// </summary>
public sealed class CliContext(TextWriter stdout, TextWriter stderr, HttpMessageHandler? handler = null)
{
    public TextWriter Out { get; } = stdout;

    public TextWriter Error { get; } = stderr;

    public Option<string> ServerOption { get; } = new("--server", "-s")
    {
        Description = $"Server base URL (default: ${ApiClient.ServerVariable})",
        Recursive = true,
    };

    public Option<string> TokenOption { get; } = new("--token")
    {
        Description = $"API token (default: ${ApiClient.TokenVariable})",
        Recursive = true,
    };

    /// <summary>Runs a command body with an API client; prints <c>error: …</c> and returns the exit code on failure.</summary>
    public async Task<int> RunAsync(ParseResult parse, Func<ApiClient, CancellationToken, Task<int>> body, CancellationToken cancellationToken)
    {
        try
        {
            using var api = ApiClient.Create(parse.GetValue(ServerOption), parse.GetValue(TokenOption), handler);
            return await body(api, cancellationToken);
        }
        catch (ApiException e)
        {
            await Error.WriteLineAsync("error: " + e.Message);
            return e.ExitCode;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            await Error.WriteLineAsync("interrupted");
            return ExitCodes.Failed;
        }
    }
}
