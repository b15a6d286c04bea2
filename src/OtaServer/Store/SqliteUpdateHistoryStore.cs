namespace OtaServer.Store;

internal sealed class SqliteUpdateHistoryStore(SqliteDatabase db) : IUpdateHistoryStore
{
    public Task<bool> AddAsync(string device, string step, long? targetVersion, string? targetCommit, long? bytes, string? detail, DateTimeOffset at, CancellationToken cancellationToken)
    {
        using var lease = db.Rent();
        using var cmd = lease.Command("""
            INSERT INTO device_updates(device, step, target_version, target_commit, bytes, detail, reported_at)
            SELECT name, $step, $version, $commit, $bytes, $detail, $at FROM devices WHERE name = $device
            """);
        var added = cmd.With("$device", device).With("$step", step).With("$version", targetVersion).With("$commit", targetCommit)
            .With("$bytes", bytes).With("$detail", detail).With("$at", at.ToDb()).ExecuteNonQuery();
        return Task.FromResult(added > 0);
    }

    public Task<IReadOnlyList<DeviceUpdateEntry>> ListAsync(string device, int limit, CancellationToken cancellationToken)
    {
        using var lease = db.Rent();
        using var cmd = lease.Command("""
            SELECT id, device, step, target_version, target_commit, bytes, detail, reported_at FROM
              (SELECT * FROM device_updates WHERE device = $device ORDER BY id DESC LIMIT $limit) ORDER BY id
            """);
        using var r = cmd.With("$device", device).With("$limit", limit).ExecuteReader();
        var list = new List<DeviceUpdateEntry>();
        while (r.Read())
        {
            list.Add(new DeviceUpdateEntry(r.GetInt64(0), r.GetString(1), r.GetString(2), r.GetInt64OrNull(3), r.GetStringOrNull(4),
                r.GetInt64OrNull(5), r.GetStringOrNull(6), r.GetTime(7)));
        }

        return Task.FromResult<IReadOnlyList<DeviceUpdateEntry>>(list);
    }
}
