namespace OtaServer.Store;

/// <summary>
/// <see cref="IWaveStore"/> on PostgreSQL. A rollout step bumps the wave's step counter and schedules its devices in one
/// transaction; the bump locks the wave row, so steps started at once on two replicas get distinct numbers and a device
/// lands in exactly one of them.
/// </summary>
internal sealed class PostgresWaveStore(PostgresDatabase db) : IWaveStore
{
    private const string Columns = "name, target_id, repository, version, commit_hex, tag, hardware_id, status, status_reason, failure_ratio, min_sample, pause_after_step, steps, created_at, finished_at";

    public async Task<IReadOnlyList<Wave>> ListWavesAsync(CancellationToken cancellationToken)
    {
        await using var c = await db.OpenAsync(cancellationToken);
        await using var cmd = c.Command($"SELECT {Columns} FROM waves ORDER BY created_at, name");
        await using var r = await cmd.ExecuteReaderAsync(cancellationToken);
        var list = new List<Wave>();
        while (await r.ReadAsync(cancellationToken))
        {
            list.Add(new Wave(r.GetString(0), r.GetInt64(1), r.GetString(2), r.GetInt64(3), r.GetString(4), r.GetString(5), r.GetStringOrNull(6),
                Enum.Parse<WaveStatus>(r.GetString(7)), r.GetStringOrNull(8), r.GetDouble(9), r.GetInt(10), r.GetBoolean(11),
                r.GetInt(12), r.GetTime(13), r.GetTimeOrNull(14)));
        }

        return list;
    }

    public async Task<bool> AddWaveAsync(Wave w, CancellationToken cancellationToken)
    {
        await using var c = await db.OpenAsync(cancellationToken);
        await using var cmd = c.Command($"INSERT INTO waves({Columns}) VALUES(@name, @target, @repo, @version, @commit, @tag, @hw, @status, @reason, @ratio, @min, @pause, @steps, @created, @finished) ON CONFLICT(name) DO NOTHING")
            .With("@name", w.Name).With("@target", w.TargetId).With("@repo", w.Repository).With("@version", w.Version)
            .With("@commit", w.Commit).With("@tag", w.Tag).With("@hw", w.HardwareId).With("@status", w.Status.ToString()).With("@reason", w.StatusReason)
            .WithReal("@ratio", w.FailureRatio).With("@min", w.MinSample).With("@pause", w.PauseAfterStep).With("@steps", w.Steps)
            .With("@created", w.CreatedAt).With("@finished", w.FinishedAt);
        return await cmd.ExecuteNonQueryAsync(cancellationToken) > 0;
    }

    public async Task SetWaveStatusAsync(string name, WaveStatus status, string? reason, DateTimeOffset? finishedAt, CancellationToken cancellationToken)
    {
        await using var c = await db.OpenAsync(cancellationToken);
        await using var cmd = c.Command("UPDATE waves SET status = @status, status_reason = @reason, finished_at = @finished WHERE name = @name")
            .With("@status", status.ToString()).With("@reason", reason).With("@finished", finishedAt).With("@name", name);
        await cmd.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task<int> AddWaveDevicesAsync(string wave, IReadOnlyCollection<string> devices, DateTimeOffset now, string? by, CancellationToken cancellationToken)
    {
        await using var c = await db.OpenAsync(cancellationToken);
        await using var tx = await c.BeginTransactionAsync(cancellationToken);
        long step;
        await using (var bump = c.Command("UPDATE waves SET steps = steps + 1 WHERE name = @name RETURNING steps", tx).With("@name", wave))
        {
            step = await bump.ExecuteScalarAsync(cancellationToken) as long?
                ?? throw new InvalidOperationException($"There is no wave '{wave}' to add a step to.");
        }

        await using var cmd = c.Command("INSERT INTO wave_devices(wave, device, step, scheduled_at, scheduled_by) " +
            "SELECT @wave, d, @step, @now, @by FROM unnest(@devices) AS d ORDER BY d ON CONFLICT DO NOTHING", tx)
            .With("@wave", wave).With("@step", step).With("@now", now).With("@by", by).With("@devices", devices.Distinct(StringComparer.Ordinal).ToArray());
        var added = await cmd.ExecuteNonQueryAsync(cancellationToken);
        await tx.CommitAsync(cancellationToken);
        return added;
    }

    public async Task<IReadOnlyList<WaveDevice>> ListWaveDevicesAsync(string wave, CancellationToken cancellationToken)
    {
        await using var c = await db.OpenAsync(cancellationToken);
        await using var cmd = c.Command("SELECT wave, device, step, scheduled_at, result, detail, result_at, scheduled_by FROM wave_devices WHERE wave = @wave ORDER BY step, device")
            .With("@wave", wave);
        await using var r = await cmd.ExecuteReaderAsync(cancellationToken);
        var list = new List<WaveDevice>();
        while (await r.ReadAsync(cancellationToken))
            list.Add(new WaveDevice(r.GetString(0), r.GetString(1), r.GetInt(2), r.GetTime(3), r.GetStringOrNull(4), r.GetStringOrNull(5), r.GetTimeOrNull(6), r.GetStringOrNull(7)));
        return list;
    }

    public async Task AddWaveGroupAsync(string wave, string group, int step, CancellationToken cancellationToken)
    {
        await using var c = await db.OpenAsync(cancellationToken);
        await using var cmd = c.Command("INSERT INTO wave_groups(wave, grp, step) VALUES(@wave, @grp, @step) ON CONFLICT DO NOTHING")
            .With("@wave", wave).With("@grp", group).With("@step", step);
        await cmd.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task<IReadOnlyDictionary<string, int>> ListWaveGroupsAsync(string wave, CancellationToken cancellationToken)
    {
        await using var c = await db.OpenAsync(cancellationToken);
        await using var cmd = c.Command("SELECT grp, step FROM wave_groups WHERE wave = @wave").With("@wave", wave);
        await using var r = await cmd.ExecuteReaderAsync(cancellationToken);
        var groups = new Dictionary<string, int>(StringComparer.Ordinal);
        while (await r.ReadAsync(cancellationToken))
            groups[r.GetString(0)] = r.GetInt(1);
        return groups;
    }

    public async Task<bool> AddWaveDeviceAtStepAsync(string wave, string device, int step, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var c = await db.OpenAsync(cancellationToken);
        await using var cmd = c.Command("INSERT INTO wave_devices(wave, device, step, scheduled_at) VALUES(@wave, @device, @step, @now) ON CONFLICT DO NOTHING")
            .With("@wave", wave).With("@device", device).With("@step", step).With("@now", now);
        return await cmd.ExecuteNonQueryAsync(cancellationToken) > 0;
    }

    public async Task RecordResultAsync(string wave, string device, string result, string? detail, DateTimeOffset at, CancellationToken cancellationToken)
    {
        await using var c = await db.OpenAsync(cancellationToken);
        await using var cmd = c.Command("UPDATE wave_devices SET result = @result, detail = @detail, result_at = @at WHERE wave = @wave AND device = @device")
            .With("@result", result).With("@detail", detail).With("@at", at).With("@wave", wave).With("@device", device);
        await cmd.ExecuteNonQueryAsync(cancellationToken);
    }
}
