using System.Data.Common;
using Akka.Actor.Setup;
using Akka.Configuration;
using Akka.Persistence.Sql.Config;
using LinqToDB;
using AnomalyActors.Core.Configuration;
using AnomalyActors.Node.Settings;
using Microsoft.Data.Sqlite;

namespace AnomalyActors.Node.Persistence;

/// <summary>Completes the Akka.Persistence.Sql plugin blocks from <see cref="PersistenceSettings"/>.</summary>
public static class PersistenceConfig
{
    public static Config For(PersistenceSettings settings)
    {
        switch (settings.Provider)
        {
            case PersistenceProvider.None:
                return ConfigurationFactory.ParseString("""
                    akka.persistence.journal.plugin = "akka.persistence.journal.inmem"
                    akka.persistence.snapshot-store.plugin = "akka.persistence.no-snapshot-store"
                    """);
            case PersistenceProvider.Sqlite:
                PrepareSqlite(settings.SqliteFile);
                return Sql(SqliteConnectionString(settings.SqliteFile), ProviderName.SQLiteMS);
            case PersistenceProvider.PostgreSql:
                return Sql(settings.PostgresConnectionString, ProviderName.PostgreSQL15);
            default:
                throw new ArgumentOutOfRangeException(nameof(settings));
        }
    }

    /// <summary>
    /// Connection set-up the HOCON cannot express: for SQLite, the per-connection synchronous mode.
    /// </summary>
    public static Setup? SetupFor(PersistenceSettings settings)
    {
        if (settings.Provider != PersistenceProvider.Sqlite)
        {
            return null;
        }

        return new DataOptionsSetup(SqliteDataOptions(settings));
    }

    /// <summary>How the journal and snapshot store open their SQLite connections.</summary>
    public static DataOptions SqliteDataOptions(PersistenceSettings settings)
    {
        // busy_timeout makes SQLite itself wait for the write lock (polling it every few ms).
        // Without it a locked database comes back to Microsoft.Data.Sqlite, whose retry sleeps
        // about 150 ms per attempt: with sensors' snapshot writes and episode events competing
        // for the one writer, that put 150-650 ms on an episode's persist and so on its alert
        // (Kafka benchmark, benchmarks/README.md).
        var pragma = $"PRAGMA synchronous={settings.SqliteSynchronous}; PRAGMA busy_timeout={BusyTimeoutMs};";
        return new DataOptions()
            .UseConnectionString(ProviderName.SQLiteMS, SqliteConnectionString(settings.SqliteFile))
            .UseAfterConnectionOpened(
                connection => Execute(connection, pragma),
                (connection, _) =>
                {
                    Execute(connection, pragma);
                    return Task.CompletedTask;
                });
    }

    /// <summary>How long a writer waits for SQLite's write lock before the command fails (as the connection's Default Timeout).</summary>
    public const int BusyTimeoutMs = 60_000;

    private static void Execute(DbConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    // Default Timeout (seconds) bounds Microsoft.Data.Sqlite's own retry with the same limit as busy_timeout.
    private static string SqliteConnectionString(string file) => $"Data Source={file};Pooling=True;Default Timeout={BusyTimeoutMs / 1000}";

    private static Config Sql(string connectionString, string providerName)
    {
        var quoted = HoconText.Quote(connectionString);
        // The plugin's own reference configuration (table mappings) sits underneath; its journal and
        // snapshot store are our subclasses, which answer recovering actors' reads in batches.
        return ConfigurationFactory.ParseString($$"""
            akka.persistence.journal.sql { class = "{{typeof(BatchedSqlJournal).AssemblyQualifiedName}}", connection-string = {{quoted}}, provider-name = "{{providerName}}" }
            akka.persistence.snapshot-store.sql { class = "{{typeof(BatchedSqlSnapshotStore).AssemblyQualifiedName}}", connection-string = {{quoted}}, provider-name = "{{providerName}}" }
            akka.persistence.query.journal.sql { connection-string = {{quoted}}, provider-name = "{{providerName}}" }
            """).WithFallback(Akka.Persistence.Sql.SqlPersistence.DefaultConfiguration);
    }

    /// <summary>
    /// WAL lets snapshot reads and journal writes proceed side by side; the mode is stored in the
    /// file, so setting it once before the plugins open their connections is enough.
    /// </summary>
    private static void PrepareSqlite(string file)
    {
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(file)!);
            using var connection = new SqliteConnection($"Data Source={file};Pooling=False");
            connection.Open();
            using var command = connection.CreateCommand();
            // Also proves the file is a database this process can write, before any actor needs it.
            command.CommandText = "PRAGMA journal_mode=WAL; PRAGMA quick_check(1);";
            command.ExecuteNonQuery();
        }
        catch (Exception e) when (e is SqliteException or IOException or UnauthorizedAccessException)
        {
            throw new ConfigurationException(
                $"Cannot use the SQLite database '{file}' (anomaly-actors.persistence.sqlite.file inside anomaly-actors.data-dir): {e.Message}", e);
        }
    }
}
