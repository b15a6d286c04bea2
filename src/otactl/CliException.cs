namespace OtaCtl;

/// <summary>An error the user can act on: printed as "error: message", exit code 1 (2 for usage, 3 for refused by server).</summary>
public sealed class CliException(string message, int exitCode = 1) : Exception(message)
{
    public int ExitCode { get; } = exitCode;
}
