using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;

namespace OtaServer.Store;

/// <summary>
/// The shared PostgreSQL store (<c>OtaServer:Store:Provider = postgres</c>): one pooled
/// <see cref="NpgsqlDataSource"/>, migrated on first use. Several replicas may start at once;
/// <see cref="PostgresMigrations"/> serialises them on an advisory lock so each script runs once.
/// </summary>
internal sealed partial class PostgresDatabase : IDisposable
{
    private readonly NpgsqlDataSource _dataSource;

    public PostgresDatabase(IOptions<StoreOptions> store, ILogger<PostgresDatabase> logger)
        : this(store.Value.ConnectionString ?? throw new InvalidOperationException(
            "OtaServer:Store:ConnectionString is required when OtaServer:Store:Provider is 'postgres'."), logger)
    {
    }

    public PostgresDatabase(string connectionString, ILogger<PostgresDatabase> logger)
    {
        _dataSource = NpgsqlDataSource.Create(connectionString);
        using var connection = Open();
        var (from, to) = PostgresMigrations.Apply(connection);
        if (from != to)
            LogMigrated(logger, connection.Database, from, to);
    }

    /// <summary>An open connection from the pool; dispose it to give it back.</summary>
    public NpgsqlConnection Open() => _dataSource.OpenConnection();

    public ValueTask<NpgsqlConnection> OpenAsync(CancellationToken cancellationToken) => _dataSource.OpenConnectionAsync(cancellationToken);

    public void Dispose() => _dataSource.Dispose();

    [LoggerMessage(Level = LogLevel.Information, Message = "Store database {Database} migrated from schema {From} to {To}")]
    private static partial void LogMigrated(ILogger logger, string database, int from, int to);
}

/// <summary>
/// Typed parameters (PostgreSQL cannot infer the type of a bare NULL in <c>@p IS NULL</c>) and
/// the millisecond timestamps the stores share with SQLite.
/// </summary>
internal static class PostgresCommandExtensions
{
    public static NpgsqlCommand Command(this NpgsqlConnection connection, string sql, NpgsqlTransaction? tx = null) =>
        new(sql, connection, tx);

    public static NpgsqlCommand With(this NpgsqlCommand cmd, string name, string? value) => Add(cmd, name, NpgsqlDbType.Text, value);

    public static NpgsqlCommand With(this NpgsqlCommand cmd, string name, long? value) => Add(cmd, name, NpgsqlDbType.Bigint, value);

    public static NpgsqlCommand With(this NpgsqlCommand cmd, string name, long value) => Add(cmd, name, NpgsqlDbType.Bigint, value);

    public static NpgsqlCommand With(this NpgsqlCommand cmd, string name, int value) => Add(cmd, name, NpgsqlDbType.Bigint, (long)value);

    public static NpgsqlCommand With(this NpgsqlCommand cmd, string name, string[] values) => Add(cmd, name, NpgsqlDbType.Array | NpgsqlDbType.Text, values);

    public static NpgsqlCommand With(this NpgsqlCommand cmd, string name, long[] values) => Add(cmd, name, NpgsqlDbType.Array | NpgsqlDbType.Bigint, values);

    public static NpgsqlCommand WithReal(this NpgsqlCommand cmd, string name, double value) => Add(cmd, name, NpgsqlDbType.Double, value);

    public static NpgsqlCommand With(this NpgsqlCommand cmd, string name, bool value) => Add(cmd, name, NpgsqlDbType.Boolean, value);

    public static NpgsqlCommand With(this NpgsqlCommand cmd, string name, byte[] value) => Add(cmd, name, NpgsqlDbType.Bytea, value);

    public static NpgsqlCommand With(this NpgsqlCommand cmd, string name, DateTimeOffset? value) => Add(cmd, name, NpgsqlDbType.Bigint, value?.ToDb());

    private static NpgsqlCommand Add(NpgsqlCommand cmd, string name, NpgsqlDbType type, object? value)
    {
        cmd.Parameters.Add(new NpgsqlParameter(name, type) { Value = value ?? DBNull.Value });
        return cmd;
    }

    public static string? GetStringOrNull(this NpgsqlDataReader r, int i) => r.IsDBNull(i) ? null : r.GetString(i);

    public static long? GetInt64OrNull(this NpgsqlDataReader r, int i) => r.IsDBNull(i) ? null : r.GetInt64(i);

    public static int GetInt(this NpgsqlDataReader r, int i) => checked((int)r.GetInt64(i));

    public static DateTimeOffset? GetTimeOrNull(this NpgsqlDataReader r, int i) =>
        r.IsDBNull(i) ? null : DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(i));

    public static DateTimeOffset GetTime(this NpgsqlDataReader r, int i) => DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(i));

    /// <summary>Unique-key violation (SQLSTATE 23505), optionally of one constraint.</summary>
    public static bool IsUniqueViolation(this PostgresException e, string? constraint = null) =>
        e.SqlState == PostgresErrorCodes.UniqueViolation && (constraint is null || e.ConstraintName == constraint);
}
