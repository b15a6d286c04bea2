using Microsoft.Data.Sqlite;

namespace OtaServer.Store;

/// <summary>Schema scripts, applied in order; <c>PRAGMA user_version</c> records how many ran. Append, never edit.</summary>
internal static class SqliteMigrations
{
    private static readonly string[] Scripts =
    [
        """
        CREATE TABLE targets(
            id INTEGER PRIMARY KEY,
            repository TEXT NOT NULL,
            version INTEGER NOT NULL,
            ref TEXT NOT NULL,
            commit_hex TEXT NOT NULL,
            created_at INTEGER NOT NULL);
        CREATE INDEX targets_repo_version ON targets(repository, version);
        CREATE INDEX targets_commit ON targets(commit_hex);
        CREATE TABLE target_hardware(
            target_id INTEGER NOT NULL REFERENCES targets(id) ON DELETE CASCADE,
            hardware_id TEXT NOT NULL,
            PRIMARY KEY(target_id, hardware_id));
        CREATE TABLE target_tags(
            target_id INTEGER NOT NULL REFERENCES targets(id) ON DELETE CASCADE,
            tag TEXT NOT NULL,
            PRIMARY KEY(target_id, tag));
        CREATE TABLE devices(
            name TEXT PRIMARY KEY,
            token_hash BLOB NOT NULL UNIQUE,
            hardware_id TEXT,
            tag TEXT,
            current_commit TEXT,
            current_version INTEGER,
            last_seen INTEGER,
            created_at INTEGER NOT NULL);
        CREATE INDEX devices_tag_version ON devices(tag, current_version);
        CREATE TABLE registration_tokens(
            token_hash BLOB PRIMARY KEY,
            tag TEXT,
            hardware_id TEXT,
            uses_left INTEGER NOT NULL,
            expires_at INTEGER NOT NULL,
            created_at INTEGER NOT NULL);
        CREATE TABLE jobs(
            id TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            payload TEXT NOT NULL,
            dedup_key TEXT,
            status TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            created_at INTEGER NOT NULL,
            started_at INTEGER,
            finished_at INTEGER,
            error TEXT);
        CREATE INDEX jobs_status_created ON jobs(status, created_at);
        CREATE UNIQUE INDEX jobs_active_dedup ON jobs(dedup_key)
            WHERE dedup_key IS NOT NULL AND status IN ('Pending', 'Running');
        CREATE TABLE job_log(
            job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
            seq INTEGER NOT NULL,
            start_offset INTEGER NOT NULL,
            end_offset INTEGER NOT NULL,
            text TEXT NOT NULL,
            PRIMARY KEY(job_id, seq));
        """,
        """
        ALTER TABLE devices ADD COLUMN group_name TEXT;
        CREATE INDEX devices_group ON devices(group_name);
        CREATE TABLE waves(
            name TEXT PRIMARY KEY,
            target_id INTEGER NOT NULL,
            repository TEXT NOT NULL,
            version INTEGER NOT NULL,
            commit_hex TEXT NOT NULL,
            tag TEXT NOT NULL,
            hardware_id TEXT,
            status TEXT NOT NULL,
            status_reason TEXT,
            failure_ratio REAL NOT NULL,
            min_sample INTEGER NOT NULL,
            pause_after_step INTEGER NOT NULL,
            steps INTEGER NOT NULL DEFAULT 0,
            created_at INTEGER NOT NULL,
            finished_at INTEGER);
        CREATE TABLE wave_devices(
            wave TEXT NOT NULL REFERENCES waves(name) ON DELETE CASCADE,
            device TEXT NOT NULL,
            step INTEGER NOT NULL,
            scheduled_at INTEGER NOT NULL,
            result TEXT,
            detail TEXT,
            result_at INTEGER,
            PRIMARY KEY(wave, device));
        """,
        """
        CREATE TABLE device_rollbacks(
            device TEXT PRIMARY KEY REFERENCES devices(name) ON DELETE CASCADE,
            target_id INTEGER NOT NULL,
            version INTEGER NOT NULL,
            commit_hex TEXT NOT NULL,
            reason TEXT,
            requested_at INTEGER NOT NULL,
            done_at INTEGER);
        """,
        """
        CREATE TABLE device_updates(
            id INTEGER PRIMARY KEY,
            device TEXT NOT NULL REFERENCES devices(name) ON DELETE CASCADE,
            step TEXT NOT NULL,
            target_version INTEGER,
            target_commit TEXT,
            bytes INTEGER,
            detail TEXT,
            reported_at INTEGER NOT NULL);
        CREATE INDEX device_updates_device ON device_updates(device, id);
        """,
        """
        CREATE TABLE wave_groups(
            wave TEXT NOT NULL REFERENCES waves(name) ON DELETE CASCADE,
            grp TEXT NOT NULL,
            step INTEGER NOT NULL,
            PRIMARY KEY(wave, grp));
        ALTER TABLE wave_devices ADD COLUMN scheduled_by TEXT;
        """,
    ];

    public static int LatestVersion => Scripts.Length;

    /// <summary>Brings the schema up to date. Returns (version before, version after).</summary>
    public static (int From, int To) Apply(SqliteConnection connection)
    {
        using (var wal = connection.CreateCommand())
        {
            wal.CommandText = "PRAGMA journal_mode=WAL;";
            wal.ExecuteNonQuery();
        }
        using var tx = connection.BeginTransaction();
        using var get = connection.CreateCommand();
        get.Transaction = tx;
        get.CommandText = "PRAGMA user_version;";
        var from = Convert.ToInt32(get.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
        if (from > Scripts.Length)
        {
            throw new InvalidOperationException(
                $"The store schema is version {from} but this server knows only up to {Scripts.Length}: it was written by a newer OtaServer. Upgrade the server or restore a backup.");
        }

        for (var v = from; v < Scripts.Length; v++)
        {
            using var cmd = connection.CreateCommand();
            cmd.Transaction = tx;
            cmd.CommandText = Scripts[v] + $"\nPRAGMA user_version = {v + 1};";
            cmd.ExecuteNonQuery();
        }
        tx.Commit();
        return (from, Scripts.Length);
    }
}
