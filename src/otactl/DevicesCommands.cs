using System.CommandLine;
using System.Globalization;

namespace OtaCtl;

/// <summary><c>otactl devices list|create|delete|registration-token</c>.</summary>
internal static class DevicesCommands
{
    public static Command Create(CliContext ctx)
    {
        var devices = new Command("devices", "Devices and their tokens");
        devices.Subcommands.Add(List(ctx));
        devices.Subcommands.Add(Show(ctx));
        devices.Subcommands.Add(CreateDevice(ctx));
        devices.Subcommands.Add(Delete(ctx));
        devices.Subcommands.Add(RegistrationToken(ctx));
        devices.Subcommands.Add(SetGroup(ctx));
        devices.Subcommands.Add(Rollback(ctx));
        return devices;
    }

    private static Command List(CliContext ctx)
    {
        var byTag = new Option<string>("--by-tag") { Description = "Only devices following this tag" };
        var byVersion = new Option<long?>("--by-version") { Description = "Only devices running this target version" };
        var cmd = new Command("list", "Prints the devices as a table") { byTag, byVersion };
        cmd.SetAction((parse, ct) => ctx.RunAsync(parse, async (api, ct) =>
        {
            var query = new List<string>();
            if (parse.GetValue(byTag) is { } t)
                query.Add("tag=" + Uri.EscapeDataString(t));
            if (parse.GetValue(byVersion) is { } v)
                query.Add("version=" + v.ToString(CultureInfo.InvariantCulture));
            var list = await api.GetAsync<List<DeviceInfo>>("api/v1/devices" + (query.Count > 0 ? "?" + string.Join('&', query) : ""), ct);
            Table.Write(ctx.Out, ["NAME", "HARDWARE ID", "TAG", "GROUP", "VERSION", "COMMIT", "LAST SEEN"],
                list.Select(d => new[] { d.Name, d.HardwareId ?? "-", d.Tag ?? "-", d.Group ?? "-", Table.Num(d.CurrentVersion), Table.Short(d.CurrentCommit), Table.Time(d.LastSeen) }));
            return ExitCodes.Ok;
        }, ct));
        return cmd;
    }

    private static Command Show(CliContext ctx)
    {
        var name = new Argument<string>("NAME");
        var cmd = new Command("show", "Prints a device and its update history (the steps its agent reported)") { name };
        cmd.SetAction((parse, ct) => ctx.RunAsync(parse, async (api, ct) =>
        {
            var path = "api/v1/devices/" + Uri.EscapeDataString(parse.GetValue(name)!);
            var d = await api.GetAsync<DeviceInfo>(path, ct);
            ctx.Out.WriteLine($"Device {d.Name}: hardware {d.HardwareId ?? "-"}, tag {d.Tag ?? "-"}, group {d.Group ?? "-"}, version {Table.Num(d.CurrentVersion)} ({Table.Short(d.CurrentCommit)}), last seen {Table.Time(d.LastSeen)}");
            var history = await api.GetAsync<List<DeviceUpdateInfo>>(path + "/updates", ct);
            if (history.Count == 0)
            {
                ctx.Out.WriteLine("No update reported yet.");
                return ExitCodes.Ok;
            }
            Table.Write(ctx.Out, ["TIME", "STEP", "VERSION", "COMMIT", "BYTES", "DETAIL"],
                history.Select(u => new[] { Table.Time(u.ReportedAt), u.Step, Table.Num(u.TargetVersion), Table.Short(u.TargetCommit), Table.Num(u.Bytes), u.Detail ?? "" }));
            return ExitCodes.Ok;
        }, ct));
        return cmd;
    }

    private static Command CreateDevice(CliContext ctx)
    {
        var name = new Argument<string>("NAME");
        var hw = new Option<string>("--hw-id") { Description = "Hardware id" };
        var tag = new Option<string>("--tag") { Description = "Tag the device follows" };
        var cmd = new Command("create", "Creates a device and prints its token (shown once)") { name, hw, tag };
        cmd.SetAction((parse, ct) => ctx.RunAsync(parse, async (api, ct) =>
        {
            var res = await api.PostAsync<DeviceCreated>("api/v1/devices", new CreateDeviceRequest(parse.GetValue(name)!, parse.GetValue(hw), parse.GetValue(tag)), ct);
            ctx.Error.WriteLine($"Created device {res.Device.Name}. Its token (shown once, the server keeps only a hash):");
            ctx.Out.WriteLine(res.Token);
            return ExitCodes.Ok;
        }, ct));
        return cmd;
    }

    private static Command Delete(CliContext ctx)
    {
        var name = new Argument<string>("NAME");
        var cmd = new Command("delete", "Deletes a device (its token stops working)") { name };
        cmd.SetAction((parse, ct) => ctx.RunAsync(parse, async (api, ct) =>
        {
            await api.DeleteAsync("api/v1/devices/" + Uri.EscapeDataString(parse.GetValue(name)!), ct);
            ctx.Out.WriteLine($"Deleted device {parse.GetValue(name)}");
            return ExitCodes.Ok;
        }, ct));
        return cmd;
    }

    private static Command SetGroup(CliContext ctx)
    {
        var name = new Argument<string>("NAME");
        var group = new Argument<string>("GROUP") { Description = "Group name; '-' removes the device from its group" };
        var cmd = new Command("set-group", "Puts a device in a group (waves roll out by group)") { name, group };
        cmd.SetAction((parse, ct) => ctx.RunAsync(parse, async (api, ct) =>
        {
            var g = parse.GetValue(group);
            using var request = new HttpRequestMessage(HttpMethod.Patch, "api/v1/devices/" + Uri.EscapeDataString(parse.GetValue(name)!))
            {
                Content = ApiClient.JsonBody(new UpdateDeviceRequest(g == "-" ? null : g)),
            };
            using var _ = await api.SendAsync(request, HttpCompletionOption.ResponseContentRead, ct);
            ctx.Out.WriteLine(g == "-" ? $"Device {parse.GetValue(name)} is in no group" : $"Device {parse.GetValue(name)} is in group {g}");
            return ExitCodes.Ok;
        }, ct));
        return cmd;
    }

    private static Command Rollback(CliContext ctx)
    {
        var name = new Argument<string>("NAME");
        var version = new Argument<long>("VERSION") { Description = "The lower target version the device goes back to" };
        var reason = new Option<string>("--reason") { Description = "Why (shown with the device's status)" };
        var withdraw = new Option<bool>("--withdraw") { Description = "Withdraw the device's rollback order instead (VERSION is ignored)" };
        var cmd = new Command("rollback", "Orders a device back to a lower version (devices are otherwise never offered one)") { name, version, reason, withdraw };
        cmd.SetAction((parse, ct) => ctx.RunAsync(parse, async (api, ct) =>
        {
            var device = parse.GetValue(name)!;
            var path = "api/v1/devices/" + Uri.EscapeDataString(device) + "/rollback";
            if (parse.GetValue(withdraw))
            {
                await api.DeleteAsync(path, ct);
                ctx.Out.WriteLine($"Withdrew the rollback order of device {device}");
                return ExitCodes.Ok;
            }
            var res = await api.PostAsync<DeviceInfo>(path, new RollbackRequest(parse.GetValue(version), parse.GetValue(reason)), ct);
            ctx.Out.WriteLine($"Device {res.Name} will be offered version {res.Rollback?.Version} at its next check-in (rollback {res.Rollback?.State})");
            return ExitCodes.Ok;
        }, ct));
        return cmd;
    }

    private static Command RegistrationToken(CliContext ctx)
    {
        var tag = new Option<string>("--tag") { Description = "Tag registered devices follow" };
        var hw = new Option<string>("--hw-id") { Description = "Hardware id of registered devices" };
        var uses = new Option<int?>("--uses") { Description = "How many devices may register with it (default 1)" };
        var hours = new Option<double?>("--expires-hours") { Description = "Hours until it expires (default 24)" };
        var cmd = new Command("registration-token", "Creates a token devices use to register themselves") { tag, hw, uses, hours };
        cmd.SetAction((parse, ct) => ctx.RunAsync(parse, async (api, ct) =>
        {
            var res = await api.PostAsync<RegistrationTokenCreated>("api/v1/devices/registration-tokens",
                new CreateRegistrationTokenRequest(parse.GetValue(tag), parse.GetValue(hw), parse.GetValue(uses), parse.GetValue(hours)), ct);
            ctx.Error.WriteLine($"Registration token for {res.Uses} device(s), expires {Table.Time(res.ExpiresAt)} UTC:");
            ctx.Out.WriteLine(res.Token);
            return ExitCodes.Ok;
        }, ct));
        return cmd;
    }
}
