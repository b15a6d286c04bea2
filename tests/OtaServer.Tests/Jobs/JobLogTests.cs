using System.Net;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using OtaServer.Jobs;
using OtaServer.Tests.Workflow;

namespace OtaServer.Tests.Jobs;

public sealed class JobLogTests
{
    private readonly TestJobs _block = new("test-block");

    private FleetFactory NewFactory() => new(s => s.AddSingleton<IJobHandler>(_block),
        new Dictionary<string, string?> { ["OtaServer:Jobs:KeepAliveInterval"] = "00:00:00.050" });

    private sealed record Event(string? Id, string? Type, string Data);

    /// <summary>Reads SSE events (counting comment lines) until <paramref name="until"/> says stop.</summary>
    private static async Task<(List<Event> Events, int Comments)> ReadEventsAsync(HttpClient client, string id, long? lastEventId, Func<Event, bool> until)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/api/v1/jobs/{id}/log");
        request.Headers.Accept.ParseAdd("text/event-stream");
        if (lastEventId is { } last)
            request.Headers.Add("Last-Event-ID", last.ToString());
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cts.Token);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cts.Token));
        var events = new List<Event>();
        var comments = 0;
        string? evId = null, evType = null;
        var data = new StringBuilder();
        while (await reader.ReadLineAsync(cts.Token) is { } line)
        {
            if (line.StartsWith(':'))
            {
                comments++;
                continue;
            }
            if (line.Length == 0)
            {
                if (data.Length == 0 && evType is null)
                    continue;
                var ev = new Event(evId, evType, data.ToString());
                events.Add(ev);
                evId = evType = null;
                data.Clear();
                if (until(ev))
                    break;
                continue;
            }
            if (line.StartsWith("id: "))
                evId = line[4..];
            else if (line.StartsWith("event: "))
                evType = line[7..];
            else if (line.StartsWith("data: "))
                data.Append(line[6..]);
        }
        return (events, comments);
    }

    [Fact]
    public async Task Sse_StreamsOneEventPerLineWithIds_EndsWithStatus_AndLastEventIdResumes()
    {
        using var f = NewFactory();
        var admin = f.Admin();
        var queue = f.Services.GetRequiredService<IJobQueue>();
        var (job, _) = await queue.EnqueueAsync("test-block", TestJobs.Payload("sse", "alpha", "beta"), null, default);
        await _block.WaitStartedAsync("sse");

        // Lines written so far arrive while the job still runs.
        var (early, _) = await ReadEventsAsync(admin, job.Id, null, ev => ev.Data.EndsWith(" beta"));
        Assert.Contains(early, e => e.Data.EndsWith(" alpha"));

        var readAll = ReadEventsAsync(admin, job.Id, null, ev => ev.Type == "status");
        _block.Release("sse");
        var (all, _) = await readAll;
        Assert.Equal("status", all[^1].Type);
        Assert.Contains("\"status\":\"Succeeded\"", all[^1].Data);
        var lines = all.Where(e => e.Type is null).ToList();
        Assert.Equal(Enumerable.Range(1, lines.Count).Select(i => i.ToString()), lines.Select(e => e.Id));
        Assert.Contains(lines, e => e.Data.EndsWith(" released sse"));

        // Resume after line 2: the stream restarts at line 3 and still ends with the status.
        var (resumed, _) = await ReadEventsAsync(admin, job.Id, 2, ev => ev.Type == "status");
        Assert.Equal("3", resumed[0].Id);
        Assert.Equal(lines.Skip(2).Select(e => e.Data), resumed.Where(e => e.Type is null).Select(e => e.Data));
        Assert.Equal("status", resumed[^1].Type);
    }

    [Fact]
    public async Task Sse_IdleStream_SendsKeepAliveComments()
    {
        using var f = NewFactory();
        var admin = f.Admin();
        var (job, _) = await f.Services.GetRequiredService<IJobQueue>().EnqueueAsync("test-block", TestJobs.Payload("idle"), null, default);
        await _block.WaitStartedAsync("idle");
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/api/v1/jobs/{job.Id}/log");
        request.Headers.Accept.ParseAdd("text/event-stream");
        using var response = await admin.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cts.Token);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cts.Token));
        var comments = 0;
        while (comments < 2 && await reader.ReadLineAsync(cts.Token) is { } line)
        {
            if (line == ": keep-alive")
                comments++;
        }

        Assert.Equal(2, comments);
        _block.Release("idle");
    }

    [Fact]
    public async Task OffsetPolling_ReturnsTextFromByteN_WithStatusAndNextOffsetHeaders()
    {
        using var f = NewFactory();
        var admin = f.Admin();
        var (job, _) = await f.Services.GetRequiredService<IJobQueue>().EnqueueAsync("test-block", TestJobs.Payload("poll", "first line", "second line"), null, default);
        await _block.WaitStartedAsync("poll");

        var r1 = await admin.GetAsync($"/api/v1/jobs/{job.Id}/log?offset=0");
        Assert.Equal(HttpStatusCode.OK, r1.StatusCode);
        Assert.Equal("Running", r1.Headers.GetValues("X-Job-Status").Single());
        var text1 = await r1.Content.ReadAsStringAsync();
        var next = long.Parse(r1.Headers.GetValues("X-Next-Offset").Single());
        Assert.Equal(Encoding.UTF8.GetByteCount(text1), next);
        Assert.Contains(" second line\n", text1);

        // Nothing new yet: empty body, same offset.
        var r2 = await admin.GetAsync($"/api/v1/jobs/{job.Id}/log?offset={next}");
        Assert.Equal("", await r2.Content.ReadAsStringAsync());
        Assert.Equal(next.ToString(), r2.Headers.GetValues("X-Next-Offset").Single());

        _block.Release("poll");
        await admin.WaitForJobAsync(job.Id);
        var r3 = await admin.GetAsync($"/api/v1/jobs/{job.Id}/log?offset={next}");
        Assert.Equal("Succeeded", r3.Headers.GetValues("X-Job-Status").Single());
        var text3 = await r3.Content.ReadAsStringAsync();
        Assert.Contains(" released poll\n", text3);
        Assert.DoesNotContain("second line", text3);

        var whole = await (await admin.GetAsync($"/api/v1/jobs/{job.Id}/log")).Content.ReadAsStringAsync();
        Assert.Equal(whole, text1 + text3);
        // From the middle of a line: exactly the bytes after it.
        var mid = await (await admin.GetAsync($"/api/v1/jobs/{job.Id}/log?offset=5")).Content.ReadAsStringAsync();
        Assert.Equal(whole[5..], mid);
    }

    [Fact]
    public async Task OffsetPolling_NegativeOffset_Returns400Problem()
    {
        using var f = NewFactory();
        var (job, _) = await f.Services.GetRequiredService<IJobQueue>().EnqueueAsync("test-block", TestJobs.Payload("neg"), null, default);
        var response = await f.Admin().GetAsync($"/api/v1/jobs/{job.Id}/log?offset=-1");
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        _block.Release("neg");
    }
}
