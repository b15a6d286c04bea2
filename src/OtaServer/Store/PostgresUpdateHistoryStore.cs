namespace OtaServer.Store;

/// <summary><see cref="IUpdateHistoryStore"/> on PostgreSQL: an append-only table, one row per reported step.</summary>
internal sealed class PostgresUpdateHistoryStore(PostgresDatabase db) : IUpdateHistoryStore
{
    public async Task<bool> AddAsync(string device, string step, long? targetVersion, string? targetCommit, long? bytes, string? detail, DateTimeOffset at, CancellationToken cancellationToken)
    {
        await using var c = await db.OpenAsync(cancellationToken);
        await using var cmd = c.Command("""
            INSERT INTO device_updates(device, step, target_version, target_commit, bytes, detail, reported_at)
            SELECT name, @step, @version, @commit, @bytes, @detail, @at FROM devices WHERE name = @device
            """).With("@device", device).With("@step", step).With("@version", targetVersion).With("@commit", targetCommit)
            .With("@bytes", bytes).With("@detail", detail).With("@at", at);
        return await cmd.ExecuteNonQueryAsync(cancellationToken) > 0;
    }

    public async Task<IReadOnlyList<DeviceUpdateEntry>> ListAsync(string device, int limit, CancellationToken cancellationToken)
    {
        await using var c = await db.OpenAsync(cancellationToken);
        await using var cmd = c.Command("""
            SELECT id, device, step, target_version, target_commit, bytes, detail, reported_at FROM
              (SELECT * FROM device_updates WHERE device = @device ORDER BY id DESC LIMIT @limit) newest ORDER BY id
            """).With("@device", device).With("@limit", limit);
        await using var r = await cmd.ExecuteReaderAsync(cancellationToken);
        var list = new List<DeviceUpdateEntry>();
        while (await r.ReadAsync(cancellationToken))
        {
            list.Add(new DeviceUpdateEntry(r.GetInt64(0), r.GetString(1), r.GetString(2), r.GetInt64OrNull(3), r.GetStringOrNull(4),
                r.GetInt64OrNull(5), r.GetStringOrNull(6), r.GetTime(7)));
        }

        return list;
    }
}
