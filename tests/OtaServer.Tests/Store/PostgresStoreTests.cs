using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;
using OtaServer.Store;
using OtaServer.Tests.Infrastructure;
using OtaServer.Tests.Workflow;

namespace OtaServer.Tests.Store;

/// <summary>What only the PostgreSQL provider has: shared migrations, and the server switched to it by configuration.</summary>
[Collection(PostgresCollection.Name)]
public sealed class PostgresStoreTests(PostgresCluster cluster)
{
    private static async Task<long> ScalarAsync(string connectionString, string sql)
    {
        await using var c = new NpgsqlConnection(connectionString);
        await c.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, c);
        return Convert.ToInt64(await cmd.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
    }

    [Fact]
    public async Task ReplicasStartingTogether_ApplyEachMigrationOnce()
    {
        var cs = await cluster.CreateDatabaseAsync();
        var go = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var starts = Enumerable.Range(0, 8).Select(_ => Task.Run(async () =>
        {
            await go.Task;
            return new PostgresDatabase(cs, NullLogger<PostgresDatabase>.Instance);
        })).ToArray();
        go.SetResult();
        var dbs = await Task.WhenAll(starts);
        foreach (var db in dbs)
            db.Dispose();
        Assert.Equal(PostgresMigrations.LatestVersion, await ScalarAsync(cs, "SELECT count(*) FROM ota_schema_migrations"));
        Assert.Equal(PostgresMigrations.LatestVersion, await ScalarAsync(cs, "SELECT max(version) FROM ota_schema_migrations"));
        Assert.Equal(1, await ScalarAsync(cs, "SELECT count(*) FROM information_schema.tables WHERE table_name = 'jobs'"));
    }

    [Fact]
    public async Task NewerSchema_RefusesToStartWithAClearMessage()
    {
        var cs = await cluster.CreateDatabaseAsync();
        new PostgresDatabase(cs, NullLogger<PostgresDatabase>.Instance).Dispose();
        await ScalarAsync(cs, "INSERT INTO ota_schema_migrations(version) VALUES(999) RETURNING version");
        var e = Assert.Throws<InvalidOperationException>(() => new PostgresDatabase(cs, NullLogger<PostgresDatabase>.Instance));
        Assert.Contains("newer OtaServer", e.Message);
    }

    [Fact]
    public async Task Server_OnPostgres_KeepsTargetsAndDevicesInTheDatabase_NotInTheDataFolder()
    {
        var cs = await cluster.CreateDatabaseAsync();
        var settings = new Dictionary<string, string?> { ["OtaServer:Store:Provider"] = "Postgres", ["OtaServer:Store:ConnectionString"] = cs };
        using (var first = new TempDirectory())
        {
            var (f1, content, _) = FleetKit.Create(settings, dataDir: first.Path);
            using (f1)
            {
                await f1.Admin().CreateTargetAsync(7, content.AddCommit(7), tags: ["t"]);
                await f1.Admin().CreateDeviceAsync("keeper");
                Assert.IsType<PostgresFleetStore>(f1.Services.GetRequiredService<IFleetStore>());
            }
            Assert.False(File.Exists(Path.Combine(first.Path, "ota.db")));
        }
        // Another replica with its own, empty data folder sees the same fleet.
        using var second = new TempDirectory();
        var (f2, _, _) = FleetKit.Create(settings, dataDir: second.Path);
        using (f2)
        {
            var store = f2.Services.GetRequiredService<IFleetStore>();
            var target = Assert.Single(await store.ListTargetsAsync(default));
            Assert.Equal(7, target.Version);
            Assert.Equal(["t"], target.Tags);
            Assert.NotNull(await store.GetDeviceAsync("keeper", default));
        }
    }
}

/// <summary>Provider settings are checked at start, before any store is used.</summary>
public sealed class StoreProviderOptionsTests
{
    [Fact]
    public void Postgres_WithoutAConnectionString_RefusesToStart_SayingWhatToSet()
    {
        using var f = new OtaServerFactory(new Dictionary<string, string?> { ["OtaServer:Store:Provider"] = "postgres" });
        var e = Assert.ThrowsAny<OptionsValidationException>(() => f.CreateClient());
        Assert.Contains("OtaServer:Store:ConnectionString", e.Message);
    }

    [Fact]
    public void UnknownProvider_RefusesToStart_NamingTheChoices()
    {
        using var f = new OtaServerFactory(new Dictionary<string, string?> { ["OtaServer:Store:Provider"] = "mysql" });
        var e = Assert.ThrowsAny<OptionsValidationException>(() => f.CreateClient());
        Assert.Contains("'sqlite' or 'postgres'", e.Message);
    }
}
