using System.CommandLine;
using System.Globalization;

namespace OtaCtl;

/// <summary><c>otactl waves init|rollout|status|complete|cancel|resume|list</c>.</summary>
internal static class WavesCommands
{
    public static Command Create(CliContext ctx)
    {
        var waves = new Command("waves", "Staged rollouts of a target to the devices of a tag");
        waves.Subcommands.Add(Init(ctx));
        waves.Subcommands.Add(Rollout(ctx));
        waves.Subcommands.Add(Status(ctx));
        waves.Subcommands.Add(Show(ctx));
        waves.Subcommands.Add(List(ctx));
        waves.Subcommands.Add(Action(ctx, "complete", "Tags the wave's target for everyone on the tag"));
        waves.Subcommands.Add(Action(ctx, "cancel", "Stops the wave: devices that have not updated go back to the tag's target"));
        waves.Subcommands.Add(Action(ctx, "resume", "Continues a wave paused by its health gate or holding after a step"));
        return waves;
    }

    private static string Escape(string name) => Uri.EscapeDataString(name);

    private static Command Init(CliContext ctx)
    {
        var name = new Argument<string>("NAME");
        var version = new Argument<long>("VERSION");
        var tag = new Argument<string>("TAG");
        var force = new Option<bool>("--force") { Description = "Create it even if static deltas are missing" };
        var ratio = new Option<double?>("--failure-ratio") { Description = "Pause when more than this share of updates fail (default 0.2)" };
        var sample = new Option<int?>("--min-sample") { Description = "Reports needed before the health gate judges (default 5)" };
        var step = new Option<bool>("--pause-after-each-step") { Description = "Hold after every rollout step until resumed" };
        var hw = new Option<string>("--hw-id") { Description = "Hardware id (when the version has several targets)" };
        var cmd = new Command("init", "Creates a wave for target VERSION on TAG") { name, version, tag, force, ratio, sample, step, hw };
        cmd.SetAction((parse, ct) => ctx.RunAsync(parse, async (api, ct) =>
        {
            var w = await api.PostAsync<WaveInfo>("api/v1/waves", new CreateWaveRequest(parse.GetValue(name)!, parse.GetValue(version), parse.GetValue(tag)!,
                parse.GetValue(force), parse.GetValue(ratio), parse.GetValue(sample), parse.GetValue(step), parse.GetValue(hw)), ct);
            ctx.Out.WriteLine($"Wave {w.Name}: version {w.Version} on tag {w.Tag}, {w.Status} (pauses above {w.FailureRatio:P0} failures after {w.MinSample} reports)");
            return ExitCodes.Ok;
        }, ct));
        return cmd;
    }

    private static Command Rollout(CliContext ctx)
    {
        var name = new Argument<string>("NAME");
        var group = new Option<string>("--group") { Description = "Devices of this group (alone, or with --limit/--percentage)" };
        var limit = new Option<string>("--limit") { Description = "At most this many more devices, or N% of the devices in scope (or of --group)" };
        var percentage = new Option<double?>("--percentage") { Description = "Up to this percentage of the devices in scope (or of --group)" };
        var devices = new Option<string[]>("--devices") { Description = "These devices (separated by commas, semicolons or whitespace; @FILE reads them from a file)" };
        var dryRun = new Option<bool>("--dry-run", "--dryrun") { Description = "List the devices that would be scheduled" };
        var cmd = new Command("rollout", "Schedules the next devices of a wave (recently seen first)") { name, group, limit, percentage, devices, dryRun };
        cmd.SetAction((parse, ct) => ctx.RunAsync(parse, async (api, ct) =>
        {
            var list = parse.GetValue(devices) is { Length: > 0 } d ? await DeviceListAsync(d, ct) : null;
            var (count, share) = ParseLimit(parse.GetValue(limit));
            if (share is not null && parse.GetValue(percentage) is not null)
                throw new ApiException(null, "Give either --limit N% or --percentage N, not both.", ExitCodes.Usage);
            var res = await api.PostAsync<RolloutResponse>($"api/v1/waves/{Escape(parse.GetValue(name)!)}/rollout",
                new RolloutRequest(parse.GetValue(group), list, count, share ?? parse.GetValue(percentage), parse.GetValue(dryRun)), ct);
            ctx.Out.WriteLine(res.DryRun
                ? $"Dry run: step {res.Step} would schedule {res.Devices.Count} device(s):"
                : $"Step {res.Step} scheduled {res.Devices.Count} device(s) (wave {res.Status}):");
            foreach (var device in res.Devices)
                ctx.Out.WriteLine("   " + device);
            return ExitCodes.Ok;
        }, ct));
        return cmd;
    }

    private static readonly char[] DeviceSeparators = [',', ';', ' ', '\t', '\r', '\n'];

    /// <summary>Device names from <c>--devices</c> values; a value <c>@FILE</c> reads the names from that file (as fioctl does).</summary>
    internal static async Task<IReadOnlyList<string>> DeviceListAsync(IEnumerable<string> values, CancellationToken ct)
    {
        var names = new List<string>();
        foreach (var value in values)
        {
            string text;
            if (value.StartsWith('@'))
            {
                var path = value[1..];
                try
                {
                    text = await File.ReadAllTextAsync(path, ct);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    throw new ApiException(null, $"Cannot read the device list '{path}': {e.Message}", ExitCodes.Usage);
                }
            }
            else
            {
                text = value;
            }

            names.AddRange(text.Split(DeviceSeparators, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        }
        if (names.Count == 0)
            throw new ApiException(null, "--devices named no device.", ExitCodes.Usage);
        return [.. names.Distinct(StringComparer.Ordinal)];
    }

    /// <summary><c>--limit N</c> (a count) or <c>--limit N%</c> (a share of the devices in scope).</summary>
    internal static (int? Count, double? Percentage) ParseLimit(string? value)
    {
        if (value is null)
            return (null, null);
        var v = value.Trim();
        if (v.EndsWith('%') && double.TryParse(v[..^1], NumberStyles.Float, CultureInfo.InvariantCulture, out var p))
            return (null, p);
        if (int.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out var n))
            return (n, null);
        throw new ApiException(null, $"--limit '{value}' is neither a device count (e.g. 10) nor a percentage (e.g. 25%).", ExitCodes.Usage);
    }

    private static Command Status(CliContext ctx)
    {
        var name = new Argument<string?>("NAME") { Arity = ArgumentArity.ZeroOrOne, Description = "The wave (default: every open wave)" };
        var cmd = new Command("status", "Prints a wave's status with totals overall and per group; without NAME, every open wave's") { name };
        cmd.SetAction((parse, ct) => ctx.RunAsync(parse, async (api, ct) =>
        {
            IReadOnlyList<string> names;
            if (parse.GetValue(name) is { } one)
            {
                names = [one];
            }
            else
            {
                names = [.. (await api.GetAsync<List<WaveInfo>>("api/v1/waves", ct))
                    .Where(w => w.Status is not ("Completed" or "Cancelled")).Select(w => w.Name)];
                if (names.Count == 0)
                    ctx.Out.WriteLine("No open wave. List every wave with: otactl waves list");
            }
            foreach (var n in names)
                PrintStatus(ctx, await api.GetAsync<WaveStatusResponse>($"api/v1/waves/{Escape(n)}", ct));
            return ExitCodes.Ok;
        }, ct));
        return cmd;
    }

    private static void PrintStatus(CliContext ctx, WaveStatusResponse s)
    {
        ctx.Out.WriteLine($"Wave {s.Wave.Name}: version {s.Wave.Version} on tag {s.Wave.Tag}, {s.Wave.Status}, {s.Wave.Steps} step(s)");
        if (s.Wave.StatusReason is { } reason)
            ctx.Out.WriteLine("  " + reason);
        static string?[] Row(string label, WaveTotals t) =>
        [
            label, t.InScope.ToString(CultureInfo.InvariantCulture), t.Scheduled.ToString(CultureInfo.InvariantCulture),
            t.Updated.ToString(CultureInfo.InvariantCulture), t.Failed.ToString(CultureInfo.InvariantCulture), t.NotYetSeen.ToString(CultureInfo.InvariantCulture),
        ];
        Table.Write(ctx.Out, ["GROUP", "IN SCOPE", "SCHEDULED", "UPDATED", "FAILED", "NOT YET SEEN"],
            s.Groups.Select(g => Row(g.Key, g.Value)).Append(Row("TOTAL", s.Totals)));
        foreach (var r in s.Rollbacks ?? [])
            ctx.Out.WriteLine($"Rollback: {r.Device} to version {r.Version.ToString(CultureInfo.InvariantCulture)} ({r.State}, ordered {Table.Time(r.RequestedAt)})");
    }

    private static Command Show(CliContext ctx)
    {
        var name = new Argument<string>("NAME");
        var cmd = new Command("show", "Prints a wave and its rollout history (each step: who, when, how many devices)") { name };
        cmd.SetAction((parse, ct) => ctx.RunAsync(parse, async (api, ct) =>
        {
            var s = await api.GetAsync<WaveStatusResponse>($"api/v1/waves/{Escape(parse.GetValue(name)!)}", ct);
            var w = s.Wave;
            ctx.Out.WriteLine($"Wave {w.Name}: version {w.Version} on tag {w.Tag}, {w.Status}, created {Table.Time(w.CreatedAt)}" +
                (w.FinishedAt is { } f ? $", finished {Table.Time(f)}" : ""));
            if (w.StatusReason is { } reason)
                ctx.Out.WriteLine("  " + reason);
            Table.Write(ctx.Out, ["STEP", "BY", "SCHEDULED AT", "DEVICES"],
                (s.History ?? []).Select(h => new[] { h.Step.ToString(CultureInfo.InvariantCulture), h.By ?? "-", Table.Time(h.ScheduledAt), h.Devices.ToString(CultureInfo.InvariantCulture) }));
            return ExitCodes.Ok;
        }, ct));
        return cmd;
    }

    private static Command List(CliContext ctx)
    {
        var cmd = new Command("list", "Prints the waves as a table");
        cmd.SetAction((parse, ct) => ctx.RunAsync(parse, async (api, ct) =>
        {
            var list = await api.GetAsync<List<WaveInfo>>("api/v1/waves", ct);
            Table.Write(ctx.Out, ["NAME", "VERSION", "TAG", "STATUS", "STEPS", "CREATED"],
                list.Select(w => new[] { w.Name, Table.Num(w.Version), w.Tag, w.Status, w.Steps.ToString(CultureInfo.InvariantCulture), Table.Time(w.CreatedAt) }));
            return ExitCodes.Ok;
        }, ct));
        return cmd;
    }

    private static Command Action(CliContext ctx, string verb, string description)
    {
        var name = new Argument<string>("NAME");
        var cmd = new Command(verb, description) { name };
        cmd.SetAction((parse, ct) => ctx.RunAsync(parse, async (api, ct) =>
        {
            var w = await api.PostAsync<WaveInfo>($"api/v1/waves/{Escape(parse.GetValue(name)!)}/{verb}", new EmptyBody(), ct);
            ctx.Out.WriteLine($"Wave {w.Name}: {w.Status}" + (w.StatusReason is { } r ? $" ({r})" : ""));
            return ExitCodes.Ok;
        }, ct));
        return cmd;
    }
}
