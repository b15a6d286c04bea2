using System.Security.Claims;
using Microsoft.AspNetCore.Http.HttpResults;
using OtaServer.Auth;
using OtaServer.Http;
using OtaServer.Store;
using OtaServer.Targets;

namespace OtaServer.Devices;

/// <summary>A step of an update, as the device agent reports it.</summary>
public sealed record DeviceReportRequest(string? Step, long? TargetVersion = null, string? TargetCommit = null, long? Bytes = null, string? Detail = null);

public sealed record DeviceUpdateDto(string Step, long? TargetVersion, string? TargetCommit, long? Bytes, string? Detail, DateTimeOffset ReportedAt)
{
    internal static DeviceUpdateDto From(DeviceUpdateEntry e) => new(e.Step, e.TargetVersion, e.TargetCommit, e.Bytes, e.Detail, e.ReportedAt);
}

/// <summary>Device update reports (device token) and the per-device update history (admin).</summary>
internal static class UpdateReportsEndpoints
{
    /// <summary>The steps an agent reports, in the order they happen; the last three end an attempt.</summary>
    public static readonly string[] Steps = ["download-started", "downloaded", "staged", "rebooted", "ok", "failed", "no-space"];

    public static void Map(IEndpointRouteBuilder app)
    {
        var g = app.MapGroup("/api/v1/devices").WithTags("Devices");
        g.MapPost("reports", ReportAsync).RequireAuthorization(Scopes.Device).WithName("DeviceReport")
            .WithSummary("A device (device token) reports a step of its update; the server appends it to the device's history.")
            .Accepts<DeviceReportRequest>("application/json");
        g.MapGet("{name}/updates", HistoryAsync).RequireAuthorization(Scopes.Admin).WithName("DeviceUpdateHistory")
            .WithSummary("The device's reported update steps, oldest first (the newest 'limit', default 200).");
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> ReportAsync(
        HttpRequest http, ClaimsPrincipal user, IUpdateHistoryStore history, TimeProvider time, CancellationToken ct)
    {
        var device = user.FindFirstValue(Scopes.DeviceClaimType);
        if (device is null)
            return TypedResults.Problem("Reports need a device token.", statusCode: StatusCodes.Status403Forbidden, title: "Forbidden");
        var (req, problem) = await JsonBody.ReadAsync<DeviceReportRequest>(http, ct);
        if (problem is not null)
            return problem;
        if (req!.Step is null || Array.IndexOf(Steps, req.Step) < 0)
            return Problems.BadRequest($"'step' must be one of {string.Join(", ", Steps)} (got '{req.Step}').");
        if (req.TargetCommit is not null && !Names.IsCommit(req.TargetCommit))
            return Problems.BadRequest($"'targetCommit' must be 64 lowercase hex characters (got '{req.TargetCommit}').");
        if (req.Bytes is < 0)
            return Problems.BadRequest("'bytes' cannot be negative.");
        if (req.Detail is { Length: > 2000 })
            return Problems.BadRequest("'detail' is at most 2000 characters.");
        if (!await history.AddAsync(device, req.Step, req.TargetVersion, req.TargetCommit, req.Bytes, req.Detail, time.GetUtcNow(), ct))
            return Problems.NotFound($"No device named '{device}': it was deleted; register it again.");
        return TypedResults.NoContent();
    }

    private static async Task<Results<Ok<IReadOnlyList<DeviceUpdateDto>>, ProblemHttpResult>> HistoryAsync(
        string name, int? limit, IFleetStore store, IUpdateHistoryStore history, CancellationToken ct)
    {
        if (limit is < 1 or > 10_000)
            return Problems.BadRequest("'limit' must be between 1 and 10000.");
        if (await store.GetDeviceAsync(name, ct) is null)
            return Problems.NotFound($"No device named '{name}'.");
        var entries = await history.ListAsync(name, limit ?? 200, ct);
        return TypedResults.Ok<IReadOnlyList<DeviceUpdateDto>>([.. entries.Select(DeviceUpdateDto.From)]);
    }
}
