using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using OtaServer.Store;
using OtaServer.Tests.Infrastructure;
using OtaServer.Tests.Workflow;

namespace OtaServer.Tests.Store;

public sealed class SqliteStoreTests
{
    private static string Scalar(string dbPath, string sql)
    {
        using var db = new SqliteConnection($"Data Source={dbPath};Pooling=false");
        db.Open();
        using var cmd = db.CreateCommand();
        cmd.CommandText = sql;
        return Convert.ToString(cmd.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture)!;
    }

    [Fact]
    public void FirstStart_CreatesTheDatabaseInTheDataFolder_InWalMode_AtTheLatestSchema()
    {
        using var f = new OtaServerFactory();
        _ = f.CreateClient();
        var path = Path.Combine(f.DataDir, "ota.db");
        Assert.True(File.Exists(path));
        Assert.Equal("wal", Scalar(path, "PRAGMA journal_mode"));
        Assert.Equal(SqliteMigrations.LatestVersion.ToString(), Scalar(path, "PRAGMA user_version"));
    }

    [Fact]
    public async Task Restart_KeepsTargetsAndDevices()
    {
        using var data = new TempDirectory();
        var (f1, content, _) = FleetKit.Create(dataDir: data.Path);
        using (f1)
        {
            await f1.Admin().CreateTargetAsync(7, content.AddCommit(7), tags: ["t"]);
            await f1.Admin().CreateDeviceAsync("keeper");
        }
        var (f2, _, _) = FleetKit.Create(dataDir: data.Path);
        using (f2)
        {
            var store = f2.Services.GetRequiredService<IFleetStore>();
            var target = Assert.Single(await store.ListTargetsAsync(default));
            Assert.Equal(7, target.Version);
            Assert.Equal(["t"], target.Tags);
            Assert.NotNull(await store.GetDeviceAsync("keeper", default));
        }
    }

    [Fact]
    public void NewerSchema_RefusesToStartWithAClearMessage()
    {
        using var data = new TempDirectory();
        var path = Path.Combine(data.Path, "ota.db");
        using (var db = new SqliteConnection($"Data Source={path};Pooling=false"))
        {
            db.Open();
            using var cmd = db.CreateCommand();
            cmd.CommandText = "PRAGMA user_version = 999";
            cmd.ExecuteNonQuery();
        }
        using var f = new OtaServerFactory(dataDir: data.Path);
        var e = Assert.ThrowsAny<Exception>(() => f.Services.GetRequiredService<IFleetStore>());
        Assert.Contains("newer OtaServer", e.ToString());
    }
}
