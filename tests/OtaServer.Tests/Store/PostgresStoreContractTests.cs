using Microsoft.Extensions.Logging.Abstractions;
using OtaServer.Store;
using OtaServer.Tests.Infrastructure;

namespace OtaServer.Tests.Store;

/// <summary>The store contract on PostgreSQL: a fresh database per test on the run's throwaway cluster; a replica is one more connection pool.</summary>
[Collection(PostgresCollection.Name)]
public sealed class PostgresStoreContractTests(PostgresCluster cluster) : StoreContractTests
{
    protected override async Task<Func<StoreSet>> NewDatabaseAsync()
    {
        var connectionString = await cluster.CreateDatabaseAsync();
        return () =>
        {
            var db = Own(new PostgresDatabase(connectionString, NullLogger<PostgresDatabase>.Instance));
            return new StoreSet(new PostgresFleetStore(db), new PostgresJobStore(db), new PostgresWaveStore(db), new PostgresUpdateHistoryStore(db));
        };
    }
}
