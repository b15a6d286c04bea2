using System.Collections.Concurrent;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;
using OtaServer.Configuration;

namespace OtaServer.Store;

/// <summary>
/// The embedded SQLite database in the data folder: created and migrated on first use, WAL mode,
/// a busy timeout, and a small pool of open connections (each set up once).
/// </summary>
internal sealed partial class SqliteDatabase : IDisposable
{
    private readonly string _connectionString;
    private readonly int _busyTimeoutMs;
    private readonly int _maxIdle;
    private readonly ConcurrentBag<SqliteConnection> _idle = [];
    private bool _disposed;

    public SqliteDatabase(IOptions<OtaServerOptions> ota, IOptions<StoreOptions> store, ILogger<SqliteDatabase> logger)
    {
        var dataDir = ota.Value.FullDataDir;
        Directory.CreateDirectory(dataDir);
        FilePath = Path.Combine(dataDir, store.Value.FileName);
        _busyTimeoutMs = store.Value.BusyTimeoutMs;
        _maxIdle = store.Value.MaxIdleConnections;
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = FilePath,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Cache = SqliteCacheMode.Private,
            Pooling = false, // this class pools; disposing closes the file for real
            DefaultTimeout = Math.Max(1, _busyTimeoutMs / 1000),
        }.ToString();
        using var lease = Rent();
        var (from, to) = SqliteMigrations.Apply(lease.Connection);
        if (from != to)
            LogMigrated(logger, FilePath, from, to);
    }

    public string FilePath { get; }

    /// <summary>An open connection; dispose the lease to give it back.</summary>
    public Lease Rent()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!_idle.TryTake(out var connection))
        {
            connection = new SqliteConnection(_connectionString);
            connection.Open();
            using var cmd = connection.CreateCommand();
            cmd.CommandText = $"PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; PRAGMA busy_timeout={_busyTimeoutMs};";
            cmd.ExecuteNonQuery();
        }
        return new Lease(this, connection);
    }

    private void Return(SqliteConnection connection)
    {
        if (_disposed || connection.State != System.Data.ConnectionState.Open || _idle.Count >= _maxIdle)
            connection.Dispose();
        else
            _idle.Add(connection);
    }

    public void Dispose()
    {
        _disposed = true;
        while (_idle.TryTake(out var c))
            c.Dispose();
    }

    internal readonly struct Lease(SqliteDatabase owner, SqliteConnection connection) : IDisposable
    {
        public SqliteConnection Connection { get; } = connection;

        public SqliteCommand Command(string sql)
        {
            var cmd = Connection.CreateCommand();
            cmd.CommandText = sql;
            return cmd;
        }

        public void Dispose() => owner.Return(Connection);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Store {Path} migrated from schema {From} to {To}")]
    private static partial void LogMigrated(ILogger logger, string path, int from, int to);
}

internal static class SqliteCommandExtensions
{
    public static SqliteCommand With(this SqliteCommand cmd, string name, object? value)
    {
        cmd.Parameters.AddWithValue(name, value ?? DBNull.Value);
        return cmd;
    }

    public static string? GetStringOrNull(this SqliteDataReader r, int i) => r.IsDBNull(i) ? null : r.GetString(i);

    public static long? GetInt64OrNull(this SqliteDataReader r, int i) => r.IsDBNull(i) ? null : r.GetInt64(i);

    public static DateTimeOffset? GetTimeOrNull(this SqliteDataReader r, int i) =>
        r.IsDBNull(i) ? null : DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(i));

    public static DateTimeOffset GetTime(this SqliteDataReader r, int i) => DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(i));

    public static long ToDb(this DateTimeOffset t) => t.ToUnixTimeMilliseconds();
}
