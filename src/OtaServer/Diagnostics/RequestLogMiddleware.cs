using System.Diagnostics;
using Serilog.Core;
using Serilog.Events;
using Serilog.Parsing;

namespace OtaServer.Diagnostics;

/// <summary>
/// One Serilog event per request, written when the handler returns:
/// <c>HTTP GET /repos/main/objects/… bytes=0-99 206 100 bytes in 0.1 ms</c>. Information below 500, Error
/// from 500 or when the pipeline threw. The source context is <see cref="SourceContext"/>, so
/// <c>Serilog:MinimumLevel:Override:OtaServer.Diagnostics.RequestLog=Warning</c> keeps only the failures.
/// It builds the event directly (template parsed once, six properties) instead of going through
/// Serilog.AspNetCore's diagnostic context: on the small-object hot path every allocation shows.
/// </summary>
internal sealed class RequestLogMiddleware(RequestDelegate next, Serilog.ILogger logger)
{
    public const string SourceContext = "OtaServer.Diagnostics.RequestLog";

    private static readonly MessageTemplate Template = new MessageTemplateParser().Parse(
        "HTTP {RequestMethod} {RequestPath} {RangeHeader} {StatusCode} {ResponseLength} bytes in {Elapsed:0.0} ms");

    private readonly Serilog.ILogger _logger = logger.ForContext(Constants.SourceContextPropertyName, SourceContext);

    public Task InvokeAsync(HttpContext context)
    {
        var start = Stopwatch.GetTimestamp();
        Task task;
        try
        {
            task = next(context);
        }
        catch (Exception e)
        {
            Write(context, start, e);
            throw;
        }
        if (task.IsCompletedSuccessfully)
        {
            Write(context, start, null);
            return Task.CompletedTask;
        }
        return AwaitAsync(context, task, start);
    }

    private async Task AwaitAsync(HttpContext context, Task task, long start)
    {
        try
        {
            await task;
        }
        catch (Exception e)
        {
            Write(context, start, e);
            throw;
        }
        Write(context, start, null);
    }

    private void Write(HttpContext context, long start, Exception? exception)
    {
        var status = exception is null ? context.Response.StatusCode : StatusCodes.Status500InternalServerError;
        var level = exception is not null || status >= StatusCodes.Status500InternalServerError ? LogEventLevel.Error : LogEventLevel.Information;
        if (!_logger.IsEnabled(level))
            return;
        var request = context.Request;
        _logger.Write(new LogEvent(DateTimeOffset.Now, level, exception, Template,
        [
            new LogEventProperty("RequestMethod", new ScalarValue(request.Method)),
            new LogEventProperty("RequestPath", new ScalarValue(request.Path.Value)),
            new LogEventProperty("RangeHeader", new ScalarValue(request.Headers.Range.ToString())),
            new LogEventProperty("StatusCode", new ScalarValue(status)),
            new LogEventProperty("ResponseLength", new ScalarValue(context.Response.ContentLength ?? -1)),
            new LogEventProperty("Elapsed", new ScalarValue(Stopwatch.GetElapsedTime(start).TotalMilliseconds)),
        ]));
    }
}
