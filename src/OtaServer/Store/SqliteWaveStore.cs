using Microsoft.Data.Sqlite;

namespace OtaServer.Store;

internal sealed class SqliteWaveStore(SqliteDatabase db) : IWaveStore
{
    private const string Columns = "name, target_id, repository, version, commit_hex, tag, hardware_id, status, status_reason, failure_ratio, min_sample, pause_after_step, steps, created_at, finished_at";

    public Task<IReadOnlyList<Wave>> ListWavesAsync(CancellationToken cancellationToken)
    {
        using var lease = db.Rent();
        using var cmd = lease.Command($"SELECT {Columns} FROM waves ORDER BY created_at, name");
        using var r = cmd.ExecuteReader();
        var list = new List<Wave>();
        while (r.Read())
        {
            list.Add(new Wave(r.GetString(0), r.GetInt64(1), r.GetString(2), r.GetInt64(3), r.GetString(4), r.GetString(5), r.GetStringOrNull(6),
                Enum.Parse<WaveStatus>(r.GetString(7)), r.GetStringOrNull(8), r.GetDouble(9), r.GetInt32(10), r.GetInt64(11) != 0,
                r.GetInt32(12), r.GetTime(13), r.GetTimeOrNull(14)));
        }

        return Task.FromResult<IReadOnlyList<Wave>>(list);
    }

    public Task<bool> AddWaveAsync(Wave w, CancellationToken cancellationToken)
    {
        using var lease = db.Rent();
        using var cmd = lease.Command($"INSERT INTO waves({Columns}) VALUES($name, $target, $repo, $version, $commit, $tag, $hw, $status, $reason, $ratio, $min, $pause, $steps, $created, $finished) ON CONFLICT(name) DO NOTHING");
        return Task.FromResult(cmd.With("$name", w.Name).With("$target", w.TargetId).With("$repo", w.Repository).With("$version", w.Version)
            .With("$commit", w.Commit).With("$tag", w.Tag).With("$hw", w.HardwareId).With("$status", w.Status.ToString()).With("$reason", w.StatusReason)
            .With("$ratio", w.FailureRatio).With("$min", w.MinSample).With("$pause", w.PauseAfterStep ? 1 : 0).With("$steps", w.Steps)
            .With("$created", w.CreatedAt.ToDb()).With("$finished", w.FinishedAt?.ToDb()).ExecuteNonQuery() > 0);
    }

    public Task SetWaveStatusAsync(string name, WaveStatus status, string? reason, DateTimeOffset? finishedAt, CancellationToken cancellationToken)
    {
        using var lease = db.Rent();
        using var cmd = lease.Command("UPDATE waves SET status = $status, status_reason = $reason, finished_at = $finished WHERE name = $name");
        cmd.With("$status", status.ToString()).With("$reason", reason).With("$finished", finishedAt?.ToDb()).With("$name", name).ExecuteNonQuery();
        return Task.CompletedTask;
    }

    public Task<int> AddWaveDevicesAsync(string wave, IReadOnlyCollection<string> devices, DateTimeOffset now, string? by, CancellationToken cancellationToken)
    {
        using var lease = db.Rent();
        using var tx = lease.Connection.BeginTransaction();
        long step;
        using (var bump = lease.Command("UPDATE waves SET steps = steps + 1 WHERE name = $name RETURNING steps"))
        {
            bump.Transaction = tx;
            step = (long)bump.With("$name", wave).ExecuteScalar()!;
        }
        using var cmd = lease.Command("INSERT INTO wave_devices(wave, device, step, scheduled_at, scheduled_by) VALUES($wave, $device, $step, $now, $by) ON CONFLICT DO NOTHING");
        cmd.Transaction = tx;
        var pd = cmd.Parameters.Add("$device", SqliteType.Text);
        cmd.With("$wave", wave).With("$step", step).With("$now", now.ToDb()).With("$by", by);
        cmd.Prepare();
        var added = 0;
        foreach (var d in devices)
        {
            pd.Value = d;
            added += cmd.ExecuteNonQuery();
        }
        tx.Commit();
        return Task.FromResult(added);
    }

    public Task<IReadOnlyList<WaveDevice>> ListWaveDevicesAsync(string wave, CancellationToken cancellationToken)
    {
        using var lease = db.Rent();
        using var cmd = lease.Command("SELECT wave, device, step, scheduled_at, result, detail, result_at, scheduled_by FROM wave_devices WHERE wave = $wave ORDER BY step, device");
        using var r = cmd.With("$wave", wave).ExecuteReader();
        var list = new List<WaveDevice>();
        while (r.Read())
            list.Add(new WaveDevice(r.GetString(0), r.GetString(1), r.GetInt32(2), r.GetTime(3), r.GetStringOrNull(4), r.GetStringOrNull(5), r.GetTimeOrNull(6), r.GetStringOrNull(7)));
        return Task.FromResult<IReadOnlyList<WaveDevice>>(list);
    }

    public Task AddWaveGroupAsync(string wave, string group, int step, CancellationToken cancellationToken)
    {
        using var lease = db.Rent();
        using var cmd = lease.Command("INSERT INTO wave_groups(wave, grp, step) VALUES($wave, $grp, $step) ON CONFLICT DO NOTHING");
        cmd.With("$wave", wave).With("$grp", group).With("$step", step).ExecuteNonQuery();
        return Task.CompletedTask;
    }

    public Task<IReadOnlyDictionary<string, int>> ListWaveGroupsAsync(string wave, CancellationToken cancellationToken)
    {
        using var lease = db.Rent();
        using var cmd = lease.Command("SELECT grp, step FROM wave_groups WHERE wave = $wave");
        using var r = cmd.With("$wave", wave).ExecuteReader();
        var groups = new Dictionary<string, int>(StringComparer.Ordinal);
        while (r.Read())
            groups[r.GetString(0)] = r.GetInt32(1);
        return Task.FromResult<IReadOnlyDictionary<string, int>>(groups);
    }

    public Task<bool> AddWaveDeviceAtStepAsync(string wave, string device, int step, DateTimeOffset now, CancellationToken cancellationToken)
    {
        using var lease = db.Rent();
        using var cmd = lease.Command("INSERT INTO wave_devices(wave, device, step, scheduled_at) VALUES($wave, $device, $step, $now) ON CONFLICT DO NOTHING");
        return Task.FromResult(cmd.With("$wave", wave).With("$device", device).With("$step", step).With("$now", now.ToDb()).ExecuteNonQuery() > 0);
    }

    public Task RecordResultAsync(string wave, string device, string result, string? detail, DateTimeOffset at, CancellationToken cancellationToken)
    {
        using var lease = db.Rent();
        using var cmd = lease.Command("UPDATE wave_devices SET result = $result, detail = $detail, result_at = $at WHERE wave = $wave AND device = $device");
        cmd.With("$result", result).With("$detail", detail).With("$at", at.ToDb()).With("$wave", wave).With("$device", device).ExecuteNonQuery();
        return Task.CompletedTask;
    }
}
