using Microsoft.Data.Sqlite;

namespace OtaServer.Store;

internal sealed class SqliteFleetStore(SqliteDatabase db) : IFleetStore
{
    private const string DeviceColumns = "name, hardware_id, tag, current_commit, current_version, last_seen, created_at, group_name";

    public Task<IReadOnlyList<Target>> ListTargetsAsync(CancellationToken cancellationToken)
    {
        using var lease = db.Rent();
        return Task.FromResult<IReadOnlyList<Target>>(ReadTargets(lease, null, null));
    }

    private static List<Target> ReadTargets(SqliteDatabase.Lease lease, SqliteTransaction? tx, string? where, params (string Name, object Value)[] args)
    {
        var hardware = new Dictionary<long, List<string>>();
        var tags = new Dictionary<long, List<string>>();
        foreach (var (table, column, into) in new[] { ("target_hardware", "hardware_id", hardware), ("target_tags", "tag", tags) })
        {
            using var cmd = lease.Command($"SELECT target_id, {column} FROM {table} ORDER BY target_id, {column}");
            cmd.Transaction = tx;
            using var r = cmd.ExecuteReader();
            while (r.Read())
            {
                var id = r.GetInt64(0);
                if (!into.TryGetValue(id, out var list))
                    into[id] = list = [];
                list.Add(r.GetString(1));
            }
        }
        var result = new List<Target>();
        using (var cmd = lease.Command("SELECT id, repository, version, ref, commit_hex, created_at FROM targets"
            + (where is null ? "" : " WHERE " + where) + " ORDER BY version, repository, id"))
        {
            cmd.Transaction = tx;
            foreach (var (n, v) in args)
                cmd.With(n, v);
            using var r = cmd.ExecuteReader();
            while (r.Read())
            {
                var id = r.GetInt64(0);
                result.Add(new Target(id, r.GetString(1), r.GetInt64(2), r.GetString(3), r.GetString(4),
                    hardware.GetValueOrDefault(id) ?? [], tags.GetValueOrDefault(id) ?? [], r.GetTime(5)));
            }
        }
        return result;
    }

    public Task<Target> AddTargetAsync(NewTarget target, CancellationToken cancellationToken)
    {
        using var lease = db.Rent();
        using var tx = lease.Connection.BeginTransaction();
        var same = ReadTargets(lease, tx, "repository = $repo AND version = $version", ("$repo", target.Repository), ("$version", target.Version));
        foreach (var existing in same)
        {
            if (existing.HardwareIds.Count == 0 || target.HardwareIds.Count == 0 ||
                existing.HardwareIds.Intersect(target.HardwareIds, StringComparer.Ordinal).Any())
            {
                var hw = existing.HardwareIds.Count == 0 ? "any hardware" : "hardware ids " + string.Join(", ", existing.HardwareIds);
                throw new StoreConflictException(
                    $"Target version {target.Version} already exists in repository '{target.Repository}' for {hw} (commit {existing.Commit}). Use a new version number.");
            }
        }
        long id;
        using (var cmd = lease.Command("INSERT INTO targets(repository, version, ref, commit_hex, created_at) VALUES($repo, $version, $ref, $commit, $created) RETURNING id"))
        {
            cmd.Transaction = tx;
            id = (long)cmd.With("$repo", target.Repository).With("$version", target.Version).With("$ref", target.Ref)
                .With("$commit", target.Commit).With("$created", target.CreatedAt.ToDb()).ExecuteScalar()!;
        }
        InsertValues(lease, tx, "target_hardware", "hardware_id", id, target.HardwareIds);
        InsertValues(lease, tx, "target_tags", "tag", id, target.Tags);
        tx.Commit();
        return Task.FromResult(new Target(id, target.Repository, target.Version, target.Ref, target.Commit,
            [.. target.HardwareIds.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)],
            [.. target.Tags.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)], target.CreatedAt));
    }

    private static void InsertValues(SqliteDatabase.Lease lease, SqliteTransaction tx, string table, string column, long id, IEnumerable<string> values)
    {
        using var cmd = lease.Command($"INSERT OR IGNORE INTO {table}(target_id, {column}) VALUES($id, $v)");
        cmd.Transaction = tx;
        var pid = cmd.Parameters.Add("$id", SqliteType.Integer);
        var pv = cmd.Parameters.Add("$v", SqliteType.Text);
        cmd.Prepare();
        foreach (var v in values)
        {
            pid.Value = id;
            pv.Value = v;
            cmd.ExecuteNonQuery();
        }
    }

    public Task SetTargetTagsAsync(IReadOnlyDictionary<long, IReadOnlyList<string>> tagsByTargetId, CancellationToken cancellationToken)
    {
        using var lease = db.Rent();
        using var tx = lease.Connection.BeginTransaction();
        foreach (var (id, tags) in tagsByTargetId)
        {
            using (var del = lease.Command("DELETE FROM target_tags WHERE target_id = $id"))
            {
                del.Transaction = tx;
                del.With("$id", id).ExecuteNonQuery();
            }
            InsertValues(lease, tx, "target_tags", "tag", id, tags);
        }
        tx.Commit();
        return Task.CompletedTask;
    }

    public Task<bool> DeleteTargetAsync(long id, CancellationToken cancellationToken)
    {
        using var lease = db.Rent();
        using var cmd = lease.Command("DELETE FROM targets WHERE id = $id");
        return Task.FromResult(cmd.With("$id", id).ExecuteNonQuery() > 0);
    }

    public Task<bool> AddDeviceAsync(Device device, byte[] tokenHash, CancellationToken cancellationToken)
    {
        using var lease = db.Rent();
        return Task.FromResult(InsertDevice(lease, null, device, tokenHash));
    }

    private static bool InsertDevice(SqliteDatabase.Lease lease, SqliteTransaction? tx, Device device, byte[] tokenHash)
    {
        using var cmd = lease.Command(
            "INSERT INTO devices(name, token_hash, hardware_id, tag, current_commit, current_version, last_seen, created_at, group_name) " +
            "VALUES($name, $hash, $hw, $tag, $commit, $version, $seen, $created, $group) ON CONFLICT(name) DO NOTHING");
        cmd.Transaction = tx;
        return cmd.With("$name", device.Name).With("$hash", tokenHash).With("$hw", device.HardwareId).With("$tag", device.Tag)
            .With("$commit", device.CurrentCommit).With("$version", device.CurrentVersion).With("$seen", device.LastSeen?.ToDb())
            .With("$created", device.CreatedAt.ToDb()).With("$group", device.Group).ExecuteNonQuery() > 0;
    }

    public Task<string?> FindDeviceNameByTokenHashAsync(byte[] tokenHash, CancellationToken cancellationToken)
    {
        using var lease = db.Rent();
        using var cmd = lease.Command("SELECT name FROM devices WHERE token_hash = $hash");
        return Task.FromResult(cmd.With("$hash", tokenHash).ExecuteScalar() as string);
    }

    public Task<Device?> GetDeviceAsync(string name, CancellationToken cancellationToken)
    {
        using var lease = db.Rent();
        using var cmd = lease.Command($"SELECT {DeviceColumns} FROM devices WHERE name = $name");
        using var r = cmd.With("$name", name).ExecuteReader();
        return Task.FromResult(r.Read() ? ReadDevice(r) : null);
    }

    private static Device ReadDevice(SqliteDataReader r) =>
        new(r.GetString(0), r.GetStringOrNull(1), r.GetStringOrNull(2), r.GetStringOrNull(3), r.GetInt64OrNull(4), r.GetTimeOrNull(5), r.GetTime(6), r.GetStringOrNull(7));

    public Task<IReadOnlyList<Device>> ListDevicesAsync(DeviceFilter filter, CancellationToken cancellationToken)
    {
        using var lease = db.Rent();
        using var cmd = lease.Command($"SELECT {DeviceColumns} FROM devices WHERE ($tag IS NULL OR tag = $tag) " +
            "AND ($version IS NULL OR current_version = $version) AND ($hw IS NULL OR hardware_id = $hw) AND ($group IS NULL OR group_name = $group) ORDER BY name");
        using var r = cmd.With("$tag", filter.Tag).With("$version", filter.Version).With("$hw", filter.HardwareId).With("$group", filter.Group).ExecuteReader();
        var list = new List<Device>();
        while (r.Read())
            list.Add(ReadDevice(r));
        return Task.FromResult<IReadOnlyList<Device>>(list);
    }

    public Task<IReadOnlyList<VersionCount>> CountDevicesByVersionAsync(string tag, string? hardwareId, CancellationToken cancellationToken)
    {
        using var lease = db.Rent();
        using var cmd = lease.Command("SELECT current_version, hardware_id, COUNT(*) FROM devices WHERE tag = $tag AND ($hw IS NULL OR hardware_id = $hw) " +
            "GROUP BY current_version, hardware_id ORDER BY current_version, hardware_id");
        using var r = cmd.With("$tag", tag).With("$hw", hardwareId).ExecuteReader();
        var list = new List<VersionCount>();
        while (r.Read())
            list.Add(new VersionCount(r.GetInt64OrNull(0), r.GetStringOrNull(1), r.GetInt32(2)));
        return Task.FromResult<IReadOnlyList<VersionCount>>(list);
    }

    public Task UpdateDeviceStateAsync(string name, DeviceState state, CancellationToken cancellationToken)
    {
        using var lease = db.Rent();
        using var cmd = lease.Command("UPDATE devices SET hardware_id = $hw, tag = $tag, current_commit = $commit, " +
            "current_version = $version, last_seen = $seen WHERE name = $name");
        cmd.With("$hw", state.HardwareId).With("$tag", state.Tag).With("$commit", state.CurrentCommit)
            .With("$version", state.CurrentVersion).With("$seen", state.LastSeen.ToDb()).With("$name", name).ExecuteNonQuery();
        return Task.CompletedTask;
    }

    public Task TouchDevicesAsync(IReadOnlyCollection<KeyValuePair<string, DateTimeOffset>> lastSeen, CancellationToken cancellationToken)
    {
        using var lease = db.Rent();
        using var tx = lease.Connection.BeginTransaction();
        using var cmd = lease.Command("UPDATE devices SET last_seen = $seen WHERE name = $name AND (last_seen IS NULL OR last_seen < $seen)");
        cmd.Transaction = tx;
        var seen = cmd.Parameters.Add("$seen", SqliteType.Integer);
        var name = cmd.Parameters.Add("$name", SqliteType.Text);
        cmd.Prepare();
        foreach (var (device, at) in lastSeen)
        {
            seen.Value = at.ToDb();
            name.Value = device;
            cmd.ExecuteNonQuery();
        }
        tx.Commit();
        return Task.CompletedTask;
    }

    public Task<bool> DeleteDeviceAsync(string name, CancellationToken cancellationToken)
    {
        using var lease = db.Rent();
        using var cmd = lease.Command("DELETE FROM devices WHERE name = $name");
        return Task.FromResult(cmd.With("$name", name).ExecuteNonQuery() > 0);
    }

    public Task<bool> SetDeviceGroupAsync(string name, string? group, CancellationToken cancellationToken)
    {
        using var lease = db.Rent();
        using var cmd = lease.Command("UPDATE devices SET group_name = $group WHERE name = $name");
        return Task.FromResult(cmd.With("$group", group).With("$name", name).ExecuteNonQuery() > 0);
    }

    public Task<bool> SetRollbackAsync(DeviceRollback rollback, CancellationToken cancellationToken)
    {
        using var lease = db.Rent();
        using var cmd = lease.Command("INSERT INTO device_rollbacks(device, target_id, version, commit_hex, reason, requested_at, done_at) " +
            "SELECT $device, $target, $version, $commit, $reason, $at, NULL WHERE EXISTS (SELECT 1 FROM devices WHERE name = $device) " +
            "ON CONFLICT(device) DO UPDATE SET target_id = excluded.target_id, version = excluded.version, commit_hex = excluded.commit_hex, " +
            "reason = excluded.reason, requested_at = excluded.requested_at, done_at = NULL");
        return Task.FromResult(cmd.With("$device", rollback.Device).With("$target", rollback.TargetId).With("$version", rollback.Version)
            .With("$commit", rollback.Commit).With("$reason", rollback.Reason).With("$at", rollback.RequestedAt.ToDb()).ExecuteNonQuery() > 0);
    }

    public Task<bool> ClearRollbackAsync(string device, CancellationToken cancellationToken)
    {
        using var lease = db.Rent();
        using var cmd = lease.Command("DELETE FROM device_rollbacks WHERE device = $device");
        return Task.FromResult(cmd.With("$device", device).ExecuteNonQuery() > 0);
    }

    public Task MarkRollbackDoneAsync(string device, DateTimeOffset at, CancellationToken cancellationToken)
    {
        using var lease = db.Rent();
        using var cmd = lease.Command("UPDATE device_rollbacks SET done_at = $at WHERE device = $device AND done_at IS NULL");
        cmd.With("$at", at.ToDb()).With("$device", device).ExecuteNonQuery();
        return Task.CompletedTask;
    }

    public Task<IReadOnlyList<DeviceRollback>> ListRollbacksAsync(CancellationToken cancellationToken)
    {
        using var lease = db.Rent();
        using var cmd = lease.Command("SELECT device, target_id, version, commit_hex, reason, requested_at, done_at FROM device_rollbacks ORDER BY device");
        using var r = cmd.ExecuteReader();
        var list = new List<DeviceRollback>();
        while (r.Read())
            list.Add(new DeviceRollback(r.GetString(0), r.GetInt64(1), r.GetInt64(2), r.GetString(3), r.GetStringOrNull(4), r.GetTime(5), r.GetTimeOrNull(6)));
        return Task.FromResult<IReadOnlyList<DeviceRollback>>(list);
    }

    public Task AddRegistrationTokenAsync(byte[] tokenHash, RegistrationToken token, CancellationToken cancellationToken)
    {
        using var lease = db.Rent();
        using var cmd = lease.Command("INSERT INTO registration_tokens(token_hash, tag, hardware_id, uses_left, expires_at, created_at) " +
            "VALUES($hash, $tag, $hw, $uses, $expires, $created)");
        cmd.With("$hash", tokenHash).With("$tag", token.Tag).With("$hw", token.HardwareId).With("$uses", token.UsesLeft)
            .With("$expires", token.ExpiresAt.ToDb()).With("$created", token.CreatedAt.ToDb()).ExecuteNonQuery();
        return Task.CompletedTask;
    }

    public Task<RegistrationOutcome> RegisterDeviceAsync(byte[] registrationTokenHash, Device device, byte[] deviceTokenHash, CancellationToken cancellationToken)
    {
        using var lease = db.Rent();
        using var tx = lease.Connection.BeginTransaction();
        using (var get = lease.Command("SELECT uses_left, expires_at, tag, hardware_id FROM registration_tokens WHERE token_hash = $hash"))
        {
            get.Transaction = tx;
            using var r = get.With("$hash", registrationTokenHash).ExecuteReader();
            if (!r.Read())
                return Task.FromResult(RegistrationOutcome.UnknownToken);
            if (r.GetInt64(0) <= 0 || r.GetTime(1) <= device.CreatedAt)
                return Task.FromResult(RegistrationOutcome.Expired);
            // The token's tag and hardware id are the defaults for devices that do not say.
            device = device with { Tag = device.Tag ?? r.GetStringOrNull(2), HardwareId = device.HardwareId ?? r.GetStringOrNull(3) };
        }
        if (!InsertDevice(lease, tx, device, deviceTokenHash))
            return Task.FromResult(RegistrationOutcome.NameTaken);
        using (var use = lease.Command("UPDATE registration_tokens SET uses_left = uses_left - 1 WHERE token_hash = $hash"))
        {
            use.Transaction = tx;
            use.With("$hash", registrationTokenHash).ExecuteNonQuery();
        }
        tx.Commit();
        return Task.FromResult(RegistrationOutcome.Registered);
    }
}
