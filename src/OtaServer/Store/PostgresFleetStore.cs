using Npgsql;

namespace OtaServer.Store;

/// <summary>
/// <see cref="IFleetStore"/> on PostgreSQL. Where SQLite's single writer made a read-then-write safe, this store
/// takes a lock: target versions under a transaction advisory lock per (repository, version), registration tokens
/// with <c>SELECT ... FOR UPDATE</c>.
/// </summary>
internal sealed class PostgresFleetStore(PostgresDatabase db) : IFleetStore
{
    private const string DeviceColumns = "name, hardware_id, tag, current_commit, current_version, last_seen, created_at, group_name";

    public async Task<IReadOnlyList<Target>> ListTargetsAsync(CancellationToken cancellationToken)
    {
        await using var c = await db.OpenAsync(cancellationToken);
        return await ReadTargetsAsync(c, null, null, null, cancellationToken);
    }

    private static async Task<List<Target>> ReadTargetsAsync(NpgsqlConnection c, NpgsqlTransaction? tx, string? repository, long? version, CancellationToken cancellationToken)
    {
        const string Filter = "(@repo IS NULL OR t.repository = @repo) AND (@version IS NULL OR t.version = @version)";
        var hardware = new Dictionary<long, List<string>>();
        var tags = new Dictionary<long, List<string>>();
        foreach (var (table, column, into) in new[] { ("target_hardware", "hardware_id", hardware), ("target_tags", "tag", tags) })
        {
            await using var cmd = c.Command($"SELECT x.target_id, x.{column} FROM {table} x JOIN targets t ON t.id = x.target_id WHERE {Filter} ORDER BY x.target_id, x.{column}", tx)
                .With("@repo", repository).With("@version", version);
            await using var r = await cmd.ExecuteReaderAsync(cancellationToken);
            while (await r.ReadAsync(cancellationToken))
            {
                var id = r.GetInt64(0);
                if (!into.TryGetValue(id, out var list))
                    into[id] = list = [];
                list.Add(r.GetString(1));
            }
        }
        var result = new List<Target>();
        await using (var cmd = c.Command($"SELECT t.id, t.repository, t.version, t.ref, t.commit_hex, t.created_at FROM targets t WHERE {Filter} ORDER BY t.version, t.repository, t.id", tx)
            .With("@repo", repository).With("@version", version))
        {
            await using var r = await cmd.ExecuteReaderAsync(cancellationToken);
            while (await r.ReadAsync(cancellationToken))
            {
                var id = r.GetInt64(0);
                result.Add(new Target(id, r.GetString(1), r.GetInt64(2), r.GetString(3), r.GetString(4),
                    hardware.GetValueOrDefault(id) ?? [], tags.GetValueOrDefault(id) ?? [], r.GetTime(5)));
            }
        }
        return result;
    }

    public async Task<Target> AddTargetAsync(NewTarget target, CancellationToken cancellationToken)
    {
        await using var c = await db.OpenAsync(cancellationToken);
        await using var tx = await c.BeginTransactionAsync(cancellationToken);
        // Two replicas adding the same version for overlapping hardware would both pass the check below under
        // READ COMMITTED; the lock makes the check and the insert one step per (repository, version).
        await using (var lk = c.Command("SELECT pg_advisory_xact_lock(hashtextextended(@key, 0))", tx)
            .With("@key", $"target\n{target.Repository}\n{target.Version}"))
        {
            await lk.ExecuteNonQueryAsync(cancellationToken);
        }

        foreach (var existing in await ReadTargetsAsync(c, tx, target.Repository, target.Version, cancellationToken))
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
        await using (var cmd = c.Command("INSERT INTO targets(repository, version, ref, commit_hex, created_at) VALUES(@repo, @version, @ref, @commit, @created) RETURNING id", tx)
            .With("@repo", target.Repository).With("@version", target.Version).With("@ref", target.Ref)
            .With("@commit", target.Commit).With("@created", target.CreatedAt))
        {
            id = (long)(await cmd.ExecuteScalarAsync(cancellationToken))!;
        }

        await InsertValuesAsync(c, tx, "target_hardware", "hardware_id", id, target.HardwareIds, cancellationToken);
        await InsertValuesAsync(c, tx, "target_tags", "tag", id, target.Tags, cancellationToken);
        await tx.CommitAsync(cancellationToken);
        return new Target(id, target.Repository, target.Version, target.Ref, target.Commit,
            [.. target.HardwareIds.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)],
            [.. target.Tags.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)], target.CreatedAt);
    }

    private static async Task InsertValuesAsync(NpgsqlConnection c, NpgsqlTransaction tx, string table, string column, long id, IEnumerable<string> values, CancellationToken cancellationToken)
    {
        await using var cmd = c.Command($"INSERT INTO {table}(target_id, {column}) SELECT @id, v FROM unnest(@values) AS v ON CONFLICT DO NOTHING", tx)
            .With("@id", id).With("@values", values.ToArray());
        await cmd.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task SetTargetTagsAsync(IReadOnlyDictionary<long, IReadOnlyList<string>> tagsByTargetId, CancellationToken cancellationToken)
    {
        await using var c = await db.OpenAsync(cancellationToken);
        await using var tx = await c.BeginTransactionAsync(cancellationToken);
        foreach (var (id, tags) in tagsByTargetId.OrderBy(kv => kv.Key)) // one lock order: concurrent re-tags cannot deadlock
        {
            await using (var del = c.Command("DELETE FROM target_tags WHERE target_id = @id", tx).With("@id", id))
                await del.ExecuteNonQueryAsync(cancellationToken);
            await InsertValuesAsync(c, tx, "target_tags", "tag", id, tags, cancellationToken);
        }
        await tx.CommitAsync(cancellationToken);
    }

    public async Task<bool> DeleteTargetAsync(long id, CancellationToken cancellationToken)
    {
        await using var c = await db.OpenAsync(cancellationToken);
        await using var cmd = c.Command("DELETE FROM targets WHERE id = @id").With("@id", id);
        return await cmd.ExecuteNonQueryAsync(cancellationToken) > 0;
    }

    public async Task<bool> AddDeviceAsync(Device device, byte[] tokenHash, CancellationToken cancellationToken)
    {
        await using var c = await db.OpenAsync(cancellationToken);
        return await InsertDeviceAsync(c, null, device, tokenHash, cancellationToken);
    }

    private static async Task<bool> InsertDeviceAsync(NpgsqlConnection c, NpgsqlTransaction? tx, Device device, byte[] tokenHash, CancellationToken cancellationToken)
    {
        await using var cmd = c.Command(
            "INSERT INTO devices(name, token_hash, hardware_id, tag, current_commit, current_version, last_seen, created_at, group_name) " +
            "VALUES(@name, @hash, @hw, @tag, @commit, @version, @seen, @created, @group) ON CONFLICT(name) DO NOTHING", tx)
            .With("@name", device.Name).With("@hash", tokenHash).With("@hw", device.HardwareId).With("@tag", device.Tag)
            .With("@commit", device.CurrentCommit).With("@version", device.CurrentVersion).With("@seen", device.LastSeen)
            .With("@created", device.CreatedAt).With("@group", device.Group);
        return await cmd.ExecuteNonQueryAsync(cancellationToken) > 0;
    }

    public async Task<string?> FindDeviceNameByTokenHashAsync(byte[] tokenHash, CancellationToken cancellationToken)
    {
        await using var c = await db.OpenAsync(cancellationToken);
        await using var cmd = c.Command("SELECT name FROM devices WHERE token_hash = @hash").With("@hash", tokenHash);
        return await cmd.ExecuteScalarAsync(cancellationToken) as string;
    }

    public async Task<Device?> GetDeviceAsync(string name, CancellationToken cancellationToken)
    {
        await using var c = await db.OpenAsync(cancellationToken);
        await using var cmd = c.Command($"SELECT {DeviceColumns} FROM devices WHERE name = @name").With("@name", name);
        await using var r = await cmd.ExecuteReaderAsync(cancellationToken);
        return await r.ReadAsync(cancellationToken) ? ReadDevice(r) : null;
    }

    private static Device ReadDevice(NpgsqlDataReader r) =>
        new(r.GetString(0), r.GetStringOrNull(1), r.GetStringOrNull(2), r.GetStringOrNull(3), r.GetInt64OrNull(4), r.GetTimeOrNull(5), r.GetTime(6), r.GetStringOrNull(7));

    public async Task<IReadOnlyList<Device>> ListDevicesAsync(DeviceFilter filter, CancellationToken cancellationToken)
    {
        await using var c = await db.OpenAsync(cancellationToken);
        await using var cmd = c.Command($"SELECT {DeviceColumns} FROM devices WHERE (@tag IS NULL OR tag = @tag) " +
            "AND (@version IS NULL OR current_version = @version) AND (@hw IS NULL OR hardware_id = @hw) AND (@group IS NULL OR group_name = @group) ORDER BY name")
            .With("@tag", filter.Tag).With("@version", filter.Version).With("@hw", filter.HardwareId).With("@group", filter.Group);
        await using var r = await cmd.ExecuteReaderAsync(cancellationToken);
        var list = new List<Device>();
        while (await r.ReadAsync(cancellationToken))
            list.Add(ReadDevice(r));
        return list;
    }

    public async Task<IReadOnlyList<VersionCount>> CountDevicesByVersionAsync(string tag, string? hardwareId, CancellationToken cancellationToken)
    {
        await using var c = await db.OpenAsync(cancellationToken);
        await using var cmd = c.Command("SELECT current_version, hardware_id, COUNT(*) FROM devices WHERE tag = @tag AND (@hw IS NULL OR hardware_id = @hw) " +
            "GROUP BY current_version, hardware_id ORDER BY current_version NULLS FIRST, hardware_id NULLS FIRST").With("@tag", tag).With("@hw", hardwareId);
        await using var r = await cmd.ExecuteReaderAsync(cancellationToken);
        var list = new List<VersionCount>();
        while (await r.ReadAsync(cancellationToken))
            list.Add(new VersionCount(r.GetInt64OrNull(0), r.GetStringOrNull(1), r.GetInt(2)));
        return list;
    }

    public async Task UpdateDeviceStateAsync(string name, DeviceState state, CancellationToken cancellationToken)
    {
        await using var c = await db.OpenAsync(cancellationToken);
        await using var cmd = c.Command("UPDATE devices SET hardware_id = @hw, tag = @tag, current_commit = @commit, " +
            "current_version = @version, last_seen = @seen WHERE name = @name")
            .With("@hw", state.HardwareId).With("@tag", state.Tag).With("@commit", state.CurrentCommit)
            .With("@version", state.CurrentVersion).With("@seen", state.LastSeen).With("@name", name);
        await cmd.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task TouchDevicesAsync(IReadOnlyCollection<KeyValuePair<string, DateTimeOffset>> lastSeen, CancellationToken cancellationToken)
    {
        if (lastSeen.Count == 0)
            return;
        // One statement for the whole batch; rows are locked in name order, so two replicas flushing at once cannot deadlock.
        var latest = lastSeen.GroupBy(kv => kv.Key, StringComparer.Ordinal)
            .Select(g => (Name: g.Key, At: g.Max(kv => kv.Value).ToDb())).OrderBy(x => x.Name, StringComparer.Ordinal).ToArray();
        await using var c = await db.OpenAsync(cancellationToken);
        await using var cmd = c.Command("""
            UPDATE devices d SET last_seen = u.seen
            FROM (SELECT * FROM unnest(@names, @seen) AS x(name, seen)) u
            WHERE d.name = u.name AND (d.last_seen IS NULL OR d.last_seen < u.seen)
            """).With("@names", latest.Select(x => x.Name).ToArray()).With("@seen", latest.Select(x => x.At).ToArray());
        await cmd.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task<bool> DeleteDeviceAsync(string name, CancellationToken cancellationToken)
    {
        await using var c = await db.OpenAsync(cancellationToken);
        await using var cmd = c.Command("DELETE FROM devices WHERE name = @name").With("@name", name);
        return await cmd.ExecuteNonQueryAsync(cancellationToken) > 0;
    }

    public async Task<bool> SetDeviceGroupAsync(string name, string? group, CancellationToken cancellationToken)
    {
        await using var c = await db.OpenAsync(cancellationToken);
        await using var cmd = c.Command("UPDATE devices SET group_name = @group WHERE name = @name").With("@group", group).With("@name", name);
        return await cmd.ExecuteNonQueryAsync(cancellationToken) > 0;
    }

    public async Task<bool> SetRollbackAsync(DeviceRollback rollback, CancellationToken cancellationToken)
    {
        await using var c = await db.OpenAsync(cancellationToken);
        await using var cmd = c.Command("INSERT INTO device_rollbacks(device, target_id, version, commit_hex, reason, requested_at, done_at) " +
            "SELECT name, @target, @version, @commit, @reason, @at, NULL FROM devices WHERE name = @device " +
            "ON CONFLICT(device) DO UPDATE SET target_id = excluded.target_id, version = excluded.version, commit_hex = excluded.commit_hex, " +
            "reason = excluded.reason, requested_at = excluded.requested_at, done_at = NULL")
            .With("@device", rollback.Device).With("@target", rollback.TargetId).With("@version", rollback.Version)
            .With("@commit", rollback.Commit).With("@reason", rollback.Reason).With("@at", rollback.RequestedAt);
        return await cmd.ExecuteNonQueryAsync(cancellationToken) > 0;
    }

    public async Task<bool> ClearRollbackAsync(string device, CancellationToken cancellationToken)
    {
        await using var c = await db.OpenAsync(cancellationToken);
        await using var cmd = c.Command("DELETE FROM device_rollbacks WHERE device = @device").With("@device", device);
        return await cmd.ExecuteNonQueryAsync(cancellationToken) > 0;
    }

    public async Task MarkRollbackDoneAsync(string device, DateTimeOffset at, CancellationToken cancellationToken)
    {
        await using var c = await db.OpenAsync(cancellationToken);
        await using var cmd = c.Command("UPDATE device_rollbacks SET done_at = @at WHERE device = @device AND done_at IS NULL").With("@at", at).With("@device", device);
        await cmd.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task<IReadOnlyList<DeviceRollback>> ListRollbacksAsync(CancellationToken cancellationToken)
    {
        await using var c = await db.OpenAsync(cancellationToken);
        await using var cmd = c.Command("SELECT device, target_id, version, commit_hex, reason, requested_at, done_at FROM device_rollbacks ORDER BY device");
        await using var r = await cmd.ExecuteReaderAsync(cancellationToken);
        var list = new List<DeviceRollback>();
        while (await r.ReadAsync(cancellationToken))
            list.Add(new DeviceRollback(r.GetString(0), r.GetInt64(1), r.GetInt64(2), r.GetString(3), r.GetStringOrNull(4), r.GetTime(5), r.GetTimeOrNull(6)));
        return list;
    }

    public async Task AddRegistrationTokenAsync(byte[] tokenHash, RegistrationToken token, CancellationToken cancellationToken)
    {
        await using var c = await db.OpenAsync(cancellationToken);
        await using var cmd = c.Command("INSERT INTO registration_tokens(token_hash, tag, hardware_id, uses_left, expires_at, created_at) " +
            "VALUES(@hash, @tag, @hw, @uses, @expires, @created)")
            .With("@hash", tokenHash).With("@tag", token.Tag).With("@hw", token.HardwareId).With("@uses", token.UsesLeft)
            .With("@expires", token.ExpiresAt).With("@created", token.CreatedAt);
        await cmd.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task<RegistrationOutcome> RegisterDeviceAsync(byte[] registrationTokenHash, Device device, byte[] deviceTokenHash, CancellationToken cancellationToken)
    {
        await using var c = await db.OpenAsync(cancellationToken);
        await using var tx = await c.BeginTransactionAsync(cancellationToken);
        // FOR UPDATE: concurrent registrations with one token queue here, and each sees the uses the previous one left.
        await using (var get = c.Command("SELECT uses_left, expires_at, tag, hardware_id FROM registration_tokens WHERE token_hash = @hash FOR UPDATE", tx)
            .With("@hash", registrationTokenHash))
        {
            await using var r = await get.ExecuteReaderAsync(cancellationToken);
            if (!await r.ReadAsync(cancellationToken))
                return RegistrationOutcome.UnknownToken;
            if (r.GetInt64(0) <= 0 || r.GetTime(1) <= device.CreatedAt)
                return RegistrationOutcome.Expired;
            // The token's tag and hardware id are the defaults for devices that do not say.
            device = device with { Tag = device.Tag ?? r.GetStringOrNull(2), HardwareId = device.HardwareId ?? r.GetStringOrNull(3) };
        }
        if (!await InsertDeviceAsync(c, tx, device, deviceTokenHash, cancellationToken))
            return RegistrationOutcome.NameTaken;
        await using (var use = c.Command("UPDATE registration_tokens SET uses_left = uses_left - 1 WHERE token_hash = @hash", tx).With("@hash", registrationTokenHash))
            await use.ExecuteNonQueryAsync(cancellationToken);
        await tx.CommitAsync(cancellationToken);
        return RegistrationOutcome.Registered;
    }
}
