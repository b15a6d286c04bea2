using Microsoft.AspNetCore.Diagnostics;
using Microsoft.Data.Sqlite;
using OtaServer.Repositories.Storage;

namespace OtaServer.Diagnostics;

/// <summary>
/// A full disk is the server's condition, not a bug: any request that fails because the database or the data
/// folder has no space left answers 507 Insufficient Storage with a ProblemDetails, instead of a generic 500
/// (the ostree client and otactl retry 500s; a 507 tells the operator what to fix). Nothing was written:
/// SQLite rolls the statement back, and file writes go to temporary names first.
/// </summary>
internal sealed partial class StorageFullExceptionHandler(IProblemDetailsService problems, ILogger<StorageFullExceptionHandler> logger) : IExceptionHandler
{
    private const int SqliteFull = 13; // SQLITE_FULL

    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        if (!IsStorageFull(exception))
            return false;
        LogStorageFull(logger, httpContext.Request.Method, httpContext.Request.Path.Value ?? "", exception.Message);
        httpContext.Response.StatusCode = StatusCodes.Status507InsufficientStorage;
        return await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = httpContext,
            Exception = exception,
            ProblemDetails =
            {
                Status = StatusCodes.Status507InsufficientStorage,
                Title = "Insufficient storage",
                Detail = "The server's disk is full; nothing was changed. Free space on the data folder and retry.",
            },
        });
    }

    internal static bool IsStorageFull(Exception? exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            if (e is SqliteException { SqliteErrorCode: SqliteFull })
                return true;
            // .NET's IOExceptions on Linux carry the errno in HResult (and so do ours).
            if (e is IOException && e.HResult is Posix.ENOSPC or Posix.EDQUOT)
                return true;
        }
        return false;
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "{Method} {Path} failed: the disk is full ({Reason})")]
    private static partial void LogStorageFull(ILogger logger, string method, string path, string reason);
}
