using System.CommandLine;
using System.Globalization;

namespace OtaCtl;

/// <summary><c>otactl targets list|show|create|tag|delete|static-deltas</c>.</summary>
internal static class TargetsCommands
{
    public static Command Create(CliContext ctx)
    {
        var targets = new Command("targets", "Numbered versions of repository refs, their tags and static deltas");
        targets.Subcommands.Add(List(ctx));
        targets.Subcommands.Add(Show(ctx));
        targets.Subcommands.Add(CreateTarget(ctx));
        targets.Subcommands.Add(Tag(ctx));
        targets.Subcommands.Add(Delete(ctx));
        targets.Subcommands.Add(StaticDeltas(ctx));
        return targets;
    }

    internal static IReadOnlyList<string> SplitList(IEnumerable<string>? values) =>
        [.. (values ?? []).SelectMany(v => v.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).Distinct(StringComparer.Ordinal)];

    private static Command List(CliContext ctx)
    {
        var byTag = new Option<string>("--by-tag") { Description = "Only targets carrying this tag" };
        var hw = new Option<string>("--hw-id") { Description = "Only targets for this hardware id" };
        var cmd = new Command("list", "Prints the targets as a table") { byTag, hw };
        cmd.SetAction((parse, ct) => ctx.RunAsync(parse, async (api, ct) =>
        {
            var query = new List<string>();
            if (parse.GetValue(byTag) is { } t)
                query.Add("tag=" + Uri.EscapeDataString(t));
            if (parse.GetValue(hw) is { } h)
                query.Add("hardwareId=" + Uri.EscapeDataString(h));
            var list = await api.GetAsync<List<TargetInfo>>("api/v1/targets" + (query.Count > 0 ? "?" + string.Join('&', query) : ""), ct);
            Table.Write(ctx.Out, ["VERSION", "REPOSITORY", "REF", "COMMIT", "HARDWARE IDS", "TAGS", "CREATED"],
                list.Select(x => new[] { Table.Num(x.Version), x.Repository, x.Ref, Table.Short(x.Commit), Table.List(x.HardwareIds), Table.List(x.Tags), Table.Time(x.CreatedAt) }));
            return ExitCodes.Ok;
        }, ct));
        return cmd;
    }

    private static Command Show(CliContext ctx)
    {
        var version = new Argument<long>("VERSION");
        var hw = new Option<string>("--hw-id") { Description = "Hardware id, when the version has several targets" };
        var cmd = new Command("show", "Prints one target") { version, hw };
        cmd.SetAction((parse, ct) => ctx.RunAsync(parse, async (api, ct) =>
        {
            var path = "api/v1/targets/" + parse.GetValue(version).ToString(CultureInfo.InvariantCulture)
                + (parse.GetValue(hw) is { } h ? "?hardwareId=" + Uri.EscapeDataString(h) : "");
            var t = await api.GetAsync<TargetInfo>(path, ct);
            ctx.Out.WriteLine($"Version:      {t.Version}");
            ctx.Out.WriteLine($"Repository:   {t.Repository}");
            ctx.Out.WriteLine($"Ref:          {t.Ref}");
            ctx.Out.WriteLine($"Commit:       {t.Commit}");
            ctx.Out.WriteLine($"Hardware ids: {Table.List(t.HardwareIds)}");
            ctx.Out.WriteLine($"Tags:         {Table.List(t.Tags)}");
            ctx.Out.WriteLine($"Created:      {Table.Time(t.CreatedAt)}");
            return ExitCodes.Ok;
        }, ct));
        return cmd;
    }

    private static Command CreateTarget(CliContext ctx)
    {
        var version = new Option<long>("--version") { Description = "Target version number", Required = true };
        var refName = new Option<string>("--ref") { Description = "The repository ref", Required = true };
        var commit = new Option<string>("--commit") { Description = "Commit checksum (default: where the ref points now)" };
        var repo = new Option<string>("--repo") { Description = "Repository (default: main)" };
        var tags = new Option<string[]>("--tag", "-T") { Description = "Tag(s), repeatable or comma-separated", AllowMultipleArgumentsPerToken = false };
        var hw = new Option<string[]>("--hw-id") { Description = "Hardware id(s), repeatable or comma-separated" };
        var cmd = new Command("create", "Creates a target from a commit already in the repository") { version, refName, commit, repo, tags, hw };
        cmd.SetAction((parse, ct) => ctx.RunAsync(parse, async (api, ct) =>
        {
            var t = await api.PostAsync<TargetInfo>("api/v1/targets", new CreateTargetRequest(
                parse.GetValue(version), parse.GetValue(refName)!, parse.GetValue(commit), parse.GetValue(repo),
                SplitList(parse.GetValue(tags)), SplitList(parse.GetValue(hw))), ct);
            ctx.Out.WriteLine($"Created target {t.Version}: {t.Repository} {t.Ref} {t.Commit} tags {Table.List(t.Tags)}");
            return ExitCodes.Ok;
        }, ct));
        return cmd;
    }

    private static Command Tag(CliContext ctx)
    {
        var tags = new Option<string[]>("--tags", "-T") { Description = "Tags, comma-separated (e.g. master,promoted)", Required = true };
        var versions = new Option<string[]>("--by-version") { Description = "Target version(s), comma-separated", Required = true };
        var append = new Option<bool>("--append") { Description = "Add the tags instead of replacing the target's tags" };
        var dryRun = new Option<bool>("--dryrun", "--dry-run") { Description = "Show what would change, change nothing" };
        var hw = new Option<string>("--hw-id") { Description = "Only the targets of this hardware id" };
        var force = new Option<bool>("--force") { Description = "Move a tag even while a wave is open on it (the wave's devices and everyone else get the new target)" };
        var cmd = new Command("tag", "Sets (or adds) tags on targets: devices following a tag get its newest target") { tags, versions, append, dryRun, hw, force };
        cmd.SetAction((parse, ct) => ctx.RunAsync(parse, async (api, ct) =>
        {
            var numbers = new List<long>();
            foreach (var v in SplitList(parse.GetValue(versions)))
            {
                if (!long.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out var n))
                {
                    await ctx.Error.WriteLineAsync($"error: --by-version '{v}' is not a version number");
                    return ExitCodes.Usage;
                }
                numbers.Add(n);
            }
            var res = await api.PostAsync<TagTargetsResponse>("api/v1/targets/tags",
                new TagTargetsRequest(numbers, SplitList(parse.GetValue(tags)), parse.GetValue(append), parse.GetValue(dryRun), parse.GetValue(hw), parse.GetValue(force)), ct);
            ctx.Out.WriteLine(res.DryRun ? "Dry run: would set tags:" : "Tags set:");
            foreach (var c in res.Targets)
            {
                var hwText = c.HardwareIds.Count == 0 ? "" : $" [{string.Join(",", c.HardwareIds)}]";
                ctx.Out.WriteLine($"   {c.Version}{hwText}: {Table.List(c.Before)} -> {Table.List(c.After)}");
            }
            return ExitCodes.Ok;
        }, ct));
        return cmd;
    }

    private static Command Delete(CliContext ctx)
    {
        var version = new Argument<long>("VERSION");
        var hw = new Option<string>("--hw-id") { Description = "Hardware id, when the version has several targets" };
        var cmd = new Command("delete", "Deletes a target (its commit stays in the repository)") { version, hw };
        cmd.SetAction((parse, ct) => ctx.RunAsync(parse, async (api, ct) =>
        {
            var v = parse.GetValue(version);
            await api.DeleteAsync($"api/v1/targets/{v.ToString(CultureInfo.InvariantCulture)}" +
                (parse.GetValue(hw) is { } h ? "?hardwareId=" + Uri.EscapeDataString(h) : ""), ct);
            ctx.Out.WriteLine($"Deleted target {v}");
            return ExitCodes.Ok;
        }, ct));
        return cmd;
    }

    private static Command StaticDeltas(CliContext ctx)
    {
        var to = new Argument<long>("TO") { Description = "Target version the deltas lead to" };
        var from = new Argument<long[]>("FROM") { Description = "Extra versions to start from", Arity = ArgumentArity.ZeroOrMore };
        var dryRun = new Option<bool>("--dryrun", "--dry-run") { Description = "Only print the deltas that would be generated" };
        var byTag = new Option<string>("--by-tag") { Description = "Start from every lower version that devices following this tag run" };
        var noTail = new Option<bool>("--no-tail") { Description = "Do not follow the job's log; print its URL and return" };
        var hw = new Option<string>("--hw-id") { Description = "Hardware id (when the version has several targets)" };
        var cmd = new Command("static-deltas", "Plans and generates the static deltas a target needs") { to, from, dryRun, byTag, noTail, hw };
        cmd.SetAction((parse, ct) => ctx.RunAsync(parse, async (api, ct) =>
        {
            var toVersion = parse.GetValue(to);
            var dry = parse.GetValue(dryRun);
            var res = await api.PostAsync<StaticDeltasResponse>($"api/v1/targets/{toVersion.ToString(CultureInfo.InvariantCulture)}/static-deltas",
                new StaticDeltasRequest(parse.GetValue(byTag), parse.GetValue(from) ?? [], parse.GetValue(hw), dry), ct);
            var missing = res.Deltas.Where(d => !d.Exists).ToList();
            var existing = res.Deltas.Where(d => d.Exists).ToList();
            if (missing.Count == 0)
            {
                ctx.Out.WriteLine($"Nothing to generate: every static delta to {toVersion} that is needed exists.");
            }
            else
            {
                ctx.Out.WriteLine(dry ? "Dry run: Would generate static deltas for target versions:" : "Generating static deltas for target versions:");
                foreach (var d in missing)
                    ctx.Out.WriteLine($"   {d.From} -> {d.To}");
            }
            if (existing.Count > 0)
                ctx.Error.WriteLine("Already generated: " + string.Join(", ", existing.Select(d => $"{d.From} -> {d.To}")));
            foreach (var o in res.Orphans)
                ctx.Error.WriteLine($"Warning: version {o.Version} has no target any more ({o.Devices} device(s) run it); no delta planned from it.");
            if (res.DevicesOnUnknownVersions > 0)
                ctx.Error.WriteLine($"Warning: {res.DevicesOnUnknownVersions} device(s) run a commit that is no target; no delta planned for them.");
            if (dry || res.Job is null)
                return ExitCodes.Ok;
            ctx.Out.WriteLine($"Job {res.Job.Id}: {new Uri(api.Server, res.Job.Url.TrimStart('/'))}");
            if (parse.GetValue(noTail))
                return ExitCodes.Ok;
            return await JobsCommands.TailAsync(ctx, api, res.Job.Id, ct);
        }, ct));
        return cmd;
    }
}
