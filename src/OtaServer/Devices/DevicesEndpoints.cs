using System.Security.Claims;
using Microsoft.AspNetCore.Http.HttpResults;
using OtaServer.Auth;
using OtaServer.Http;
using OtaServer.Store;
using OtaServer.Targets;

namespace OtaServer.Devices;

public sealed record CreateDeviceRequest(string? Name, string? HardwareId = null, string? Tag = null);

public sealed record DeviceDto(
    string Name,
    string? HardwareId,
    string? Tag,
    string? CurrentCommit,
    long? CurrentVersion,
    DateTimeOffset? LastSeen,
    DateTimeOffset CreatedAt,
    string? Group,
    RollbackDto? Rollback = null)
{
    internal static DeviceDto From(Device d, DeviceRollback? rollback = null) =>
        new(d.Name, d.HardwareId, d.Tag, d.CurrentCommit, d.CurrentVersion, d.LastSeen, d.CreatedAt, d.Group, RollbackDto.From(rollback));
}

/// <summary>An explicit rollback: the device is offered <c>version</c> even though it is lower than the one it runs.</summary>
public sealed record RollbackRequest(long? Version, string? Reason = null);

/// <summary>A new device and its token. The token is shown only here; the server keeps its SHA-256.</summary>
public sealed record DeviceCreated(DeviceDto Device, string Token);

public sealed record UpdateDeviceRequest(string? Group);

public sealed record CreateRegistrationTokenRequest(string? Tag = null, string? HardwareId = null, int? Uses = null, double? ExpiresInHours = null);

public sealed record RegistrationTokenCreated(string Token, string? Tag, string? HardwareId, int Uses, DateTimeOffset ExpiresAt);

public sealed record RegisterDeviceRequest(string? RegistrationToken, string? Name, string? HardwareId = null, string? Tag = null);

/// <summary>Devices: created by an admin or self-registered with a registration token; check in with their device token.</summary>
internal static class DevicesEndpoints
{
    public static void Map(IEndpointRouteBuilder app)
    {
        var g = app.MapGroup("/api/v1/devices").WithTags("Devices");
        g.MapPost("checkin", CheckinAsync).RequireAuthorization(Scopes.Device).WithName("DeviceCheckin")
            .WithSummary("A device (device token) reports its state and learns its target and whether a static delta exists.")
            .Accepts<CheckinRequest>("application/json");
        g.MapPost("", CreateAsync).RequireAuthorization(Scopes.Admin).WithName("CreateDevice")
            .WithSummary("Creates a device and returns its token (shown once).").Accepts<CreateDeviceRequest>("application/json");
        g.MapGet("", ListAsync).RequireAuthorization(Scopes.Admin).WithName("ListDevices");
        g.MapGet("{name}", GetAsync).RequireAuthorization(Scopes.Admin).WithName("GetDevice");
        g.MapMethods("{name}", [HttpMethods.Patch], PatchAsync).RequireAuthorization(Scopes.Admin).WithName("UpdateDevice")
            .WithSummary("Puts the device in a group ({\"group\": \"beta\"}; null: no group).").Accepts<UpdateDeviceRequest>("application/json");
        g.MapPost("{name}/rollback", RollbackAsync).RequireAuthorization(Scopes.Admin).WithName("RollbackDevice")
            .WithSummary("Orders the device back to a lower version (versions otherwise only go up); shown in the device and its check-in until withdrawn.")
            .Accepts<RollbackRequest>("application/json");
        g.MapDelete("{name}/rollback", WithdrawRollbackAsync).RequireAuthorization(Scopes.Admin).WithName("WithdrawDeviceRollback");
        g.MapDelete("{name}", DeleteAsync).RequireAuthorization(Scopes.Admin).WithName("DeleteDevice");
        g.MapPost("registration-tokens", CreateRegistrationTokenAsync).RequireAuthorization(Scopes.Admin).WithName("CreateRegistrationToken")
            .WithSummary("A token devices use to register themselves (POST /api/v1/devices/register).")
            .Accepts<CreateRegistrationTokenRequest>("application/json");
        g.MapPost("register", RegisterAsync).AllowAnonymous().WithName("RegisterDevice")
            .WithSummary("A device registers itself with a registration token and gets its device token (shown once).")
            .Accepts<RegisterDeviceRequest>("application/json");
    }

    private static async Task<Results<Ok<CheckinResponse>, ProblemHttpResult>> CheckinAsync(
        HttpRequest http, ClaimsPrincipal user, CheckinService checkins, CancellationToken ct)
    {
        var device = user.FindFirstValue(Scopes.DeviceClaimType);
        if (device is null)
            return TypedResults.Problem("Check-in needs a device token.", statusCode: StatusCodes.Status403Forbidden, title: "Forbidden");
        var (req, problem) = await JsonBody.ReadAsync<CheckinRequest>(http, ct);
        if (problem is not null)
            return problem;
        if (!Names.IsHardwareId(req!.HardwareId))
            return Problems.BadRequest($"'hardwareId' is required: {Names.HardwareRule} (got '{req.HardwareId}').");
        if (!Names.IsTag(req.Tag))
            return Problems.BadRequest($"'tag' is required: {Names.TagRule} (got '{req.Tag}').");
        if (req.CurrentCommit is not null && !Names.IsCommit(req.CurrentCommit))
            return Problems.BadRequest($"'currentCommit' must be 64 lowercase hex characters (got '{req.CurrentCommit}').");
        if (req.LastUpdate is { } report && (report.Version is null || report.Result is not ("ok" or "failed" or "no-space") || report.Detail is { Length: > 2000 }))
            return Problems.BadRequest("'lastUpdate' needs 'version' and 'result' (\"ok\", \"failed\" or \"no-space\"), and an optional 'detail' of at most 2000 characters.");
        var publicUrl = http.HttpContext.RequestServices.GetRequiredService<Microsoft.Extensions.Options.IOptions<OtaServer.Configuration.OtaServerOptions>>().Value.PublicUrl;
        var baseUrl = publicUrl is { Length: > 0 } ? publicUrl.TrimEnd('/') + "/repos/" : $"{http.Scheme}://{http.Host}{http.PathBase}/repos/";
        return TypedResults.Ok(await checkins.CheckInAsync(device, req, baseUrl, ct));
    }

    private static string? CheckNames(string? name, string? hardwareId, string? tag)
    {
        if (!Names.IsDeviceName(name))
            return $"'name' is required: {Names.DeviceRule} (got '{name}').";
        if (hardwareId is not null && !Names.IsHardwareId(hardwareId))
            return $"Invalid 'hardwareId' '{hardwareId}': use {Names.HardwareRule}.";
        if (tag is not null && !Names.IsTag(tag))
            return $"Invalid 'tag' '{tag}': use {Names.TagRule}.";
        return null;
    }

    private static async Task<Results<Created<DeviceCreated>, ProblemHttpResult>> CreateAsync(
        HttpRequest http, IFleetStore store, CheckinService checkins, TimeProvider time, CancellationToken ct)
    {
        var (req, problem) = await JsonBody.ReadAsync<CreateDeviceRequest>(http, ct);
        if (problem is not null)
            return problem;
        if (CheckNames(req!.Name, req.HardwareId, req.Tag) is { } bad)
            return Problems.BadRequest(bad);
        var token = DeviceTokens.NewToken();
        var device = new Device(req.Name!, req.HardwareId, req.Tag, null, null, null, time.GetUtcNow());
        if (!await store.AddDeviceAsync(device, DeviceTokens.Hash(token), ct))
            return Problems.Conflict($"A device named '{req.Name}' exists already. Pick another name or delete it first.");
        checkins.Forget(device.Name);
        return TypedResults.Created($"/api/v1/devices/{device.Name}", new DeviceCreated(DeviceDto.From(device), token));
    }

    private static async Task<Results<Ok<IReadOnlyList<DeviceDto>>, ProblemHttpResult>> ListAsync(
        IFleetStore store, string? tag, long? version, string? hardwareId, string? group, CancellationToken ct)
    {
        if (tag is not null && !Names.IsTag(tag))
            return Problems.BadRequest($"Invalid tag '{tag}': use {Names.TagRule}.");
        var devices = await store.ListDevicesAsync(new DeviceFilter(tag, version, hardwareId, group), ct);
        return TypedResults.Ok<IReadOnlyList<DeviceDto>>([.. devices.Select(d => DeviceDto.From(d))]);
    }

    private static async Task<Results<Ok<DeviceDto>, ProblemHttpResult>> GetAsync(string name, IFleetStore store, UpdatePolicy policy, CancellationToken ct)
    {
        var device = await store.GetDeviceAsync(name, ct);
        return device is null ? Problems.NotFound($"No device named '{name}'.") : TypedResults.Ok(DeviceDto.From(device, await policy.GetRollbackAsync(name, ct)));
    }

    private static async Task<Results<Ok<DeviceDto>, ProblemHttpResult>> RollbackAsync(
        string name, HttpRequest http, IFleetStore store, TargetCatalog catalog, UpdatePolicy policy, CancellationToken ct)
    {
        var (req, problem) = await JsonBody.ReadAsync<RollbackRequest>(http, ct);
        if (problem is not null)
            return problem;
        if (req!.Version is not { } version)
            return Problems.BadRequest("'version' is required: the lower target version the device goes back to.");
        if (req.Reason is { Length: > 500 })
            return Problems.BadRequest("'reason' may be at most 500 characters.");
        if (await store.GetDeviceAsync(name, ct) is not { } device)
            return Problems.NotFound($"No device named '{name}'.");
        var (target, notFound) = await TargetsEndpoints.ResolveAsync(catalog, version, null, device.HardwareId, ct);
        if (notFound is not null)
            return notFound;
        if (device.CurrentVersion is { } running && version >= running)
            return Problems.Conflict($"Device '{name}' runs version {running}; a rollback goes to a lower version. To move it up, use a wave (otactl waves).");
        if (await policy.OrderRollbackAsync(name, target!, req.Reason, ct) is not { } rollback)
            return Problems.NotFound($"No device named '{name}'.");
        return TypedResults.Ok(DeviceDto.From(device, rollback));
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> WithdrawRollbackAsync(string name, UpdatePolicy policy, CancellationToken ct) =>
        await policy.ClearRollbackAsync(name, ct) ? TypedResults.NoContent() : Problems.NotFound($"Device '{name}' has no rollback order.");

    private static async Task<Results<Ok<DeviceDto>, ProblemHttpResult>> PatchAsync(string name, HttpRequest http, IFleetStore store, CancellationToken ct)
    {
        var (req, problem) = await JsonBody.ReadAsync<UpdateDeviceRequest>(http, ct);
        if (problem is not null)
            return problem;
        if (req!.Group is not null && !Names.IsTag(req.Group))
            return Problems.BadRequest($"Invalid group '{req.Group}': use {Names.TagRule}.");
        if (!await store.SetDeviceGroupAsync(name, req.Group, ct))
            return Problems.NotFound($"No device named '{name}'.");
        return TypedResults.Ok(DeviceDto.From((await store.GetDeviceAsync(name, ct))!));
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> DeleteAsync(
        string name, IFleetStore store, DeviceTokenResolver tokens, CheckinService checkins, UpdatePolicy policy, CancellationToken ct)
    {
        if (!await store.DeleteDeviceAsync(name, ct))
            return Problems.NotFound($"No device named '{name}'.");
        policy.Forget(name);
        tokens.Forget(name);
        checkins.Forget(name);
        return TypedResults.NoContent();
    }

    private static async Task<Results<Created<RegistrationTokenCreated>, ProblemHttpResult>> CreateRegistrationTokenAsync(
        HttpRequest http, IFleetStore store, TimeProvider time, CancellationToken ct)
    {
        var (req, problem) = await JsonBody.ReadAsync<CreateRegistrationTokenRequest>(http, ct);
        if (problem is not null)
            return problem;
        if (CheckNames("x", req!.HardwareId, req.Tag) is { } bad)
            return Problems.BadRequest(bad);
        var uses = req.Uses ?? 1;
        if (uses is < 1 or > 1_000_000)
            return Problems.BadRequest("'uses' must be between 1 and 1000000.");
        var hours = req.ExpiresInHours ?? 24;
        if (hours is not (> 0 and <= 24 * 366)) // NaN and infinities too
            return Problems.BadRequest("'expiresInHours' must be more than 0 and at most a year.");
        var now = time.GetUtcNow();
        var token = DeviceTokens.NewToken();
        var record = new RegistrationToken(req.Tag, req.HardwareId, uses, now.AddHours(hours), now);
        await store.AddRegistrationTokenAsync(DeviceTokens.Hash(token), record, ct);
        return TypedResults.Created("/api/v1/devices/register",
            new RegistrationTokenCreated(token, record.Tag, record.HardwareId, uses, record.ExpiresAt));
    }

    private static async Task<Results<Created<DeviceCreated>, ProblemHttpResult>> RegisterAsync(
        HttpRequest http, IFleetStore store, CheckinService checkins, TimeProvider time, CancellationToken ct)
    {
        var (req, problem) = await JsonBody.ReadAsync<RegisterDeviceRequest>(http, ct);
        if (problem is not null)
            return problem;
        if (string.IsNullOrEmpty(req!.RegistrationToken) || req.RegistrationToken.Length > 512)
        {
            return TypedResults.Problem("'registrationToken' is required: ask an operator for one (POST /api/v1/devices/registration-tokens).",
                statusCode: StatusCodes.Status401Unauthorized, title: "Registration token required");
        }

        if (CheckNames(req.Name, req.HardwareId, req.Tag) is { } bad)
            return Problems.BadRequest(bad);
        var token = DeviceTokens.NewToken();
        var device = new Device(req.Name!, req.HardwareId, req.Tag, null, null, null, time.GetUtcNow());
        var outcome = await store.RegisterDeviceAsync(DeviceTokens.Hash(req.RegistrationToken), device, DeviceTokens.Hash(token), ct);
        switch (outcome)
        {
            case RegistrationOutcome.Registered:
                checkins.Forget(device.Name);
                var stored = await store.GetDeviceAsync(device.Name, ct) ?? device;
                return TypedResults.Created($"/api/v1/devices/{device.Name}", new DeviceCreated(DeviceDto.From(stored), token));
            case RegistrationOutcome.NameTaken:
                return Problems.Conflict($"A device named '{req.Name}' exists already. Register under another name.");
            case RegistrationOutcome.Expired:
                return TypedResults.Problem("The registration token is used up or expired; ask an operator for a new one.",
                    statusCode: StatusCodes.Status401Unauthorized, title: "Registration token expired");
            default:
                return TypedResults.Problem("Unknown registration token.", statusCode: StatusCodes.Status401Unauthorized, title: "Unknown registration token");
        }
    }
}
