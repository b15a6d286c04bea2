using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using OtaServer.Diagnostics;
using OtaServer.Tests.Infrastructure;
using OtaServer.Tests.Serving;
using Serilog.Core;
using Serilog.Events;
using Serilog.Formatting.Display;

namespace OtaServer.Tests.Diagnostics;

public sealed class RequestLogTests
{
    private sealed class CollectingSink : ILogEventSink
    {
        public ConcurrentQueue<LogEvent> Events { get; } = new();
        public void Emit(LogEvent logEvent) => Events.Enqueue(logEvent);
    }

    private static (HttpClient Client, CollectingSink Sink, OtaServerFactory Factory) Start(string? requestLogLevel = null)
    {
        var settings = new Dictionary<string, string?> { ["Serilog:MinimumLevel:Default"] = "Information" };
        if (requestLogLevel is not null)
            settings["Serilog:MinimumLevel:Override:" + RequestLogMiddleware.SourceContext] = requestLogLevel;
        var factory = new OtaServerFactory(settings);
        var sink = new CollectingSink();
        var client = factory.WithWebHostBuilder(b => b.ConfigureTestServices(s => s.AddSingleton<ILogEventSink>(sink))).CreateClient();
        return (client, sink, factory);
    }

    private static List<LogEvent> RequestLines(CollectingSink sink) =>
        sink.Events.Where(e => e.Properties.TryGetValue("SourceContext", out var c)
            && c is ScalarValue { Value: RequestLogMiddleware.SourceContext }).ToList();

    private static object? Property(LogEvent e, string name) => ((ScalarValue)e.Properties[name]).Value;

    [Fact]
    public async Task EveryRequest_FilesAndApi_GetsOneLine_WithMethodPathRangeStatusAndLength()
    {
        var (client, sink, factory) = Start();
        using var _ = factory;
        var bytes = ServingTestRepo.RandomBytes(500);
        var path = ServingTestRepo.ObjectPath(ServingTestRepo.RandomChecksum(), "filez");
        ServingTestRepo.Write(factory, path, bytes);

        using var ranged = new HttpRequestMessage(HttpMethod.Get, "/repos/main/" + path);
        ranged.Headers.Range = new RangeHeaderValue(0, 99);
        Assert.Equal(HttpStatusCode.PartialContent, (await client.SendAsync(ranged)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("/repos/main/objects/no/such")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync("/api/v1/repos/main/refs")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/healthz")).StatusCode);

        var lines = RequestLines(sink);
        Assert.Equal(4, lines.Count);
        Assert.All(lines, e => Assert.Equal(LogEventLevel.Information, e.Level));
        Assert.Equal(["/repos/main/" + path, "/repos/main/objects/no/such", "/api/v1/repos/main/refs", "/healthz"],
            lines.Select(e => (string?)Property(e, "RequestPath")));
        Assert.Equal([206, 404, 401, 200], lines.Select(e => (int)Property(e, "StatusCode")!));
        Assert.Equal("bytes=0-99", Property(lines[0], "RangeHeader"));
        Assert.Equal(100L, Property(lines[0], "ResponseLength"));
        Assert.Equal("GET", Property(lines[0], "RequestMethod"));
        var rendered = new StringWriter();
        new MessageTemplateTextFormatter("{Message:lj}").Format(lines[0], rendered); // as the console shows it
        Assert.StartsWith("HTTP GET /repos/main/" + path + " bytes=0-99 206 100 bytes in ", rendered.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task OverrideToWarning_KeepsNoLinesForAnsweredRequests()
    {
        var (client, sink, factory) = Start(requestLogLevel: "Warning");
        using var _ = factory;
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/repos/main/config")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("/repos/main/nope")).StatusCode);
        Assert.Empty(RequestLines(sink));
    }
}
