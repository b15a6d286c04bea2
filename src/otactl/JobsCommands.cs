using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace OtaCtl;

/// <summary><c>otactl jobs list|tail|cancel</c>.</summary>
internal static class JobsCommands
{
    public static Command Create(CliContext ctx)
    {
        var jobs = new Command("jobs", "Background jobs (delta generation …) and their logs");
        jobs.Subcommands.Add(List(ctx));
        jobs.Subcommands.Add(Tail(ctx));
        jobs.Subcommands.Add(Cancel(ctx));
        return jobs;
    }

    private static Command List(CliContext ctx)
    {
        var status = new Option<string>("--status") { Description = "Only jobs in this status (Pending, Running, Succeeded, Failed, Cancelled)" };
        var limit = new Option<int?>("--limit") { Description = "At most this many (newest first, default 100)" };
        var cmd = new Command("list", "Prints the jobs as a table, newest first") { status, limit };
        cmd.SetAction((parse, ct) => ctx.RunAsync(parse, async (api, ct) =>
        {
            var query = new List<string>();
            if (parse.GetValue(status) is { } s)
                query.Add("status=" + Uri.EscapeDataString(s));
            if (parse.GetValue(limit) is { } l)
                query.Add("limit=" + l.ToString(CultureInfo.InvariantCulture));
            var list = await api.GetAsync<List<JobSummary>>("api/v1/jobs" + (query.Count > 0 ? "?" + string.Join('&', query) : ""), ct);
            Table.Write(ctx.Out, ["ID", "KIND", "STATUS", "CREATED", "STARTED", "FINISHED", "SECONDS", "ERROR"],
                list.Select(j => new[]
                {
                    j.Id, j.Kind, j.Status, Table.Time(j.CreatedAt), Table.Time(j.StartedAt), Table.Time(j.FinishedAt),
                    j.DurationSeconds?.ToString("0.0", CultureInfo.InvariantCulture) ?? "-", j.Error ?? "",
                }));
            return ExitCodes.Ok;
        }, ct));
        return cmd;
    }

    private static Command Tail(CliContext ctx)
    {
        var id = new Argument<string>("ID");
        var cmd = new Command("tail", "Prints a job's log as it grows, until the job ends; exit code 0 only if it Succeeded") { id };
        cmd.SetAction((parse, ct) => ctx.RunAsync(parse, (api, ct) => TailAsync(ctx, api, parse.GetValue(id)!, ct), ct));
        return cmd;
    }

    private static Command Cancel(CliContext ctx)
    {
        var id = new Argument<string>("ID");
        var cmd = new Command("cancel", "Cancels a pending or running job") { id };
        cmd.SetAction((parse, ct) => ctx.RunAsync(parse, async (api, ct) =>
        {
            var job = await api.PostAsync<JobSummary>($"api/v1/jobs/{Uri.EscapeDataString(parse.GetValue(id)!)}/cancel", new EmptyBody(), ct);
            ctx.Out.WriteLine(job.Status == "Cancelled" ? $"Job {job.Id} cancelled" : $"Job {job.Id}: cancellation requested");
            return ExitCodes.Ok;
        }, ct));
        return cmd;
    }

    /// <summary>
    /// Follows the job log over Server-Sent Events, reconnecting with <c>Last-Event-ID</c> if the
    /// stream breaks, until the final <c>status</c> event. Returns 0 when the job Succeeded.
    /// </summary>
    public static async Task<int> TailAsync(CliContext ctx, ApiClient api, string jobId, CancellationToken cancellationToken)
    {
        long lastId = 0;
        var failures = 0;
        while (true)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, $"api/v1/jobs/{Uri.EscapeDataString(jobId)}/log");
            request.Headers.Accept.ParseAdd("text/event-stream");
            if (lastId > 0)
                request.Headers.TryAddWithoutValidation("Last-Event-ID", lastId.ToString(CultureInfo.InvariantCulture));
            try
            {
                using var response = await api.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
                using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancellationToken), Encoding.UTF8);
                string? eventType = null, eventId = null;
                var data = new StringBuilder();
                while (await reader.ReadLineAsync(cancellationToken) is { } line)
                {
                    if (line.Length == 0)
                    {
                        if (eventType == "status")
                            return await FinishAsync(ctx, jobId, data.ToString());
                        if (data.Length > 0)
                            await ctx.Out.WriteLineAsync(data.ToString());
                        if (eventId is not null && long.TryParse(eventId, NumberStyles.None, CultureInfo.InvariantCulture, out var n))
                            lastId = n;
                        eventType = eventId = null;
                        data.Clear();
                        failures = 0;
                        continue;
                    }
                    if (line[0] == ':')
                        continue;
                    var colon = line.IndexOf(':');
                    var field = colon < 0 ? line : line[..colon];
                    var value = colon < 0 ? "" : line[(colon + 1)..];
                    if (value.StartsWith(' '))
                        value = value[1..];
                    switch (field)
                    {
                        case "data":
                            if (data.Length > 0)
                                data.Append('\n');
                            data.Append(value);
                            break;
                        case "event":
                            eventType = value;
                            break;
                        case "id":
                            eventId = value;
                            break;
                    }
                }
            }
            catch (Exception e) when (e is IOException or HttpRequestException || (e is ApiException { ExitCode: ExitCodes.Unreachable } && failures < 10))
            {
                if (++failures > 10)
                    throw new ApiException(null, $"Lost the log stream of job {jobId}: {e.Message}", ExitCodes.Unreachable);
            }
            // The stream ended without a final status: reconnect and resume after the last line seen.
            await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(5000, 200 * (failures + 1))), cancellationToken);
        }
    }

    private static async Task<int> FinishAsync(CliContext ctx, string jobId, string json)
    {
        string status = json, error = "";
        try
        {
            using var doc = JsonDocument.Parse(json);
            status = doc.RootElement.GetProperty("status").GetString() ?? "?";
            if (doc.RootElement.TryGetProperty("error", out var e) && e.ValueKind == JsonValueKind.String)
                error = ": " + e.GetString();
        }
        catch (JsonException)
        {
        }
        if (status == "Succeeded")
        {
            await ctx.Out.WriteLineAsync($"Job {jobId} Succeeded");
            return ExitCodes.Ok;
        }
        await ctx.Out.WriteLineAsync($"Job {jobId} {status}{error}");
        return ExitCodes.Failed;
    }
}
