using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using OtaServer.Configuration;
using OtaServer.Store;

namespace OtaServer.Tests.Store;

/// <summary>The store contract on the embedded SQLite file; a replica is one more <see cref="SqliteDatabase"/> on the same file.</summary>
public sealed class SqliteStoreContractTests : StoreContractTests
{
    protected override Task<Func<StoreSet>> NewDatabaseAsync()
    {
        var dir = Own(new TempDirectory("ota-store"));
        return Task.FromResult<Func<StoreSet>>(() =>
        {
            var db = Own(new SqliteDatabase(Options.Create(new OtaServerOptions { DataDir = dir.Path }), Options.Create(new StoreOptions()),
                NullLogger<SqliteDatabase>.Instance));
            return new StoreSet(new SqliteFleetStore(db), new SqliteJobStore(db), new SqliteWaveStore(db), new SqliteUpdateHistoryStore(db));
        });
    }
}
