using Akka.Persistence.Sql.Config;
using AnomalyActors.Node.Persistence;
using AnomalyActors.Node.Settings;
using LinqToDB.Data;
using Xunit;

namespace AnomalyActors.Node.Tests;

public sealed class PersistenceConfigSpecs : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "anomaly-actors-persistence-config", Guid.NewGuid().ToString("N"));

    [Theory]
    [InlineData("normal", 1)]
    [InlineData("full", 2)]
    public void Should_open_sqlite_connections_with_a_busy_timeout_and_the_configured_synchronous_mode(string synchronous, long expectedSynchronous)
    {
        // Arrange: the settings a node with the SQLite provider starts with.
        var settings = new PersistenceSettings(PersistenceProvider.Sqlite, Path.Combine(_directory, "node.db"), synchronous, string.Empty);
        _ = PersistenceConfig.For(settings);
        Assert.IsType<DataOptionsSetup>(PersistenceConfig.SetupFor(settings));

        // Act: a connection as the journal and snapshot store open theirs.
        using var connection = new DataConnection(PersistenceConfig.SqliteDataOptions(settings));
        var busyTimeout = connection.Execute<long>("PRAGMA busy_timeout");
        var mode = connection.Execute<long>("PRAGMA synchronous");

        // Assert: SQLite waits for the write lock itself (Microsoft.Data.Sqlite's own retry
        // sleeps ~150 ms per attempt), and durability is what the configuration says.
        Assert.Equal(PersistenceConfig.BusyTimeoutMs, busyTimeout);
        Assert.Equal(expectedSynchronous, mode);
    }

    [Fact]
    public void Should_need_no_connection_setup_for_postgresql()
    {
        var settings = new PersistenceSettings(PersistenceProvider.PostgreSql, string.Empty, "normal", "Host=127.0.0.1");

        Assert.Null(PersistenceConfig.SetupFor(settings));
    }

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }
}
