using System.Text.Json;
using System.Text.Json.Serialization;
namespace OtaCtl;

// The server's JSON shapes, as otactl reads and writes them.

public sealed record TargetInfo(long Version, string Repository, string Ref, string Commit, IReadOnlyList<string> HardwareIds, IReadOnlyList<string> Tags, DateTimeOffset CreatedAt);

/// <summary>Body of <c>POST /api/v1/targets</c> (push scope).</summary>
public sealed record CreateTargetRequest(long Version, string Ref, string? Commit = null, string? Repository = null, IReadOnlyList<string>? Tags = null, IReadOnlyList<string>? HardwareIds = null, bool Force = false, bool DryRun = false);

public sealed record TagTargetsRequest(IReadOnlyList<long> Versions, IReadOnlyList<string> Tags, bool Append, bool DryRun, string? HardwareId = null, bool Force = false);

public sealed record TagChange(long Version, string Repository, IReadOnlyList<string> HardwareIds, IReadOnlyList<string> Before, IReadOnlyList<string> After);

public sealed record TagTargetsResponse(bool DryRun, IReadOnlyList<TagChange> Targets);

public sealed record StaticDeltasRequest(string? ByTag, IReadOnlyList<long> From, string? HardwareId, bool DryRun);

public sealed record PlannedDelta(long From, long To, int Devices, bool Exists, string FromCommit, string ToCommit);

public sealed record OrphanVersion(long Version, int Devices);

public sealed record StaticDeltasResponse(long To, string Repository, bool DryRun, IReadOnlyList<PlannedDelta> Deltas, IReadOnlyList<OrphanVersion> Orphans, int DevicesOnUnknownVersions, JobSummary? Job);

public sealed record JobSummary(string Id, string Kind, string Status, DateTimeOffset CreatedAt, DateTimeOffset? StartedAt, DateTimeOffset? FinishedAt, double? DurationSeconds, int Attempts, string? Error, string Url, string LogUrl);

public sealed record DeviceInfo(string Name, string? HardwareId, string? Tag, string? CurrentCommit, long? CurrentVersion, DateTimeOffset? LastSeen, DateTimeOffset CreatedAt, string? Group = null, RollbackInfo? Rollback = null);

public sealed record RollbackInfo(long Version, string State, string? Reason, DateTimeOffset RequestedAt, DateTimeOffset? DoneAt);

public sealed record RollbackRequest(long Version, string? Reason);

public sealed record CreateDeviceRequest(string Name, string? HardwareId, string? Tag);

public sealed record DeviceCreated(DeviceInfo Device, string Token);

public sealed record DeviceUpdateInfo(string Step, long? TargetVersion, string? TargetCommit, long? Bytes, string? Detail, DateTimeOffset ReportedAt);

public sealed record CreateRegistrationTokenRequest(string? Tag, string? HardwareId, int? Uses, double? ExpiresInHours);

public sealed record RegistrationTokenCreated(string Token, string? Tag, string? HardwareId, int Uses, DateTimeOffset ExpiresAt);

public sealed record CreateWaveRequest(string Name, long Version, string Tag, bool Force, double? FailureRatio, int? MinSample, bool PauseAfterEachStep, string? HardwareId);

public sealed record WaveInfo(string Name, long Version, string Tag, string? HardwareId, string Status, string? StatusReason, double FailureRatio, int MinSample, bool PauseAfterEachStep, int Steps, DateTimeOffset CreatedAt, DateTimeOffset? FinishedAt);

public sealed record RolloutRequest(string? Group, IReadOnlyList<string>? Devices, int? Limit, double? Percentage, bool DryRun);

public sealed record RolloutResponse(string Wave, bool DryRun, int Step, IReadOnlyList<string> Devices, string Status);

public sealed record WaveTotals(int InScope, int Scheduled, int Updated, int Failed, int NotYetSeen);

public sealed record WaveRollback(string Device, long Version, string State, DateTimeOffset RequestedAt);

public sealed record WaveStep(int Step, string? By, DateTimeOffset ScheduledAt, int Devices);

public sealed record WaveStatusResponse(WaveInfo Wave, WaveTotals Totals, IReadOnlyDictionary<string, WaveTotals> Groups, IReadOnlyList<WaveRollback>? Rollbacks = null,
    IReadOnlyList<WaveStep>? History = null);

public sealed record UpdateDeviceRequest(string? Group);

/// <summary>The body of a POST that takes none (cancel, pause, resume, …).</summary>
public sealed record EmptyBody;

public sealed record MissingObjectsQuery(IReadOnlyList<string> Objects);

public sealed record MissingObjectsAnswer(IReadOnlyList<string> Missing);

public sealed record RefEntry(string Name, string Commit);

public sealed record RefMoveRequest(string Commit, string? Expected, bool Force);

/// <summary>
/// Every type otactl sends or reads, serialized by generated code: no reflection, so the CLI starts fast and can be
/// compiled ahead of time. The tests run the commands with the same resolver, so a type missing here fails there.
/// </summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, UseStringEnumConverter = true)]
[JsonSerializable(typeof(EmptyBody))]
[JsonSerializable(typeof(MissingObjectsQuery))]
[JsonSerializable(typeof(MissingObjectsAnswer))]
[JsonSerializable(typeof(List<RefEntry>))]
[JsonSerializable(typeof(RefMoveRequest))]
[JsonSerializable(typeof(TargetInfo))]
[JsonSerializable(typeof(List<TargetInfo>))]
[JsonSerializable(typeof(CreateTargetRequest))]
[JsonSerializable(typeof(TagTargetsRequest))]
[JsonSerializable(typeof(TagTargetsResponse))]
[JsonSerializable(typeof(StaticDeltasRequest))]
[JsonSerializable(typeof(StaticDeltasResponse))]
[JsonSerializable(typeof(JobSummary))]
[JsonSerializable(typeof(List<JobSummary>))]
[JsonSerializable(typeof(DeviceInfo))]
[JsonSerializable(typeof(List<DeviceInfo>))]
[JsonSerializable(typeof(List<DeviceUpdateInfo>))]
[JsonSerializable(typeof(CreateDeviceRequest))]
[JsonSerializable(typeof(DeviceCreated))]
[JsonSerializable(typeof(UpdateDeviceRequest))]
[JsonSerializable(typeof(RollbackRequest))]
[JsonSerializable(typeof(CreateRegistrationTokenRequest))]
[JsonSerializable(typeof(RegistrationTokenCreated))]
[JsonSerializable(typeof(CreateWaveRequest))]
[JsonSerializable(typeof(WaveInfo))]
[JsonSerializable(typeof(List<WaveInfo>))]
[JsonSerializable(typeof(RolloutRequest))]
[JsonSerializable(typeof(RolloutResponse))]
[JsonSerializable(typeof(WaveStatusResponse))]
internal sealed partial class OtactlJson : JsonSerializerContext;
