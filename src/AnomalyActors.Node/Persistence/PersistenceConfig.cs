using System.Data.Common;
using Akka.Actor.Setup;
using Akka.Configuration;
using Akka.Persistence.Sql.Config;
using LinqToDB;
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

        var pragma = $"PRAGMA synchronous={settings.SqliteSynchronous};";
        var options = new DataOptions()
            .UseConnectionString(ProviderName.SQLiteMS, SqliteConnectionString(settings.SqliteFile))
            .UseAfterConnectionOpened(
                connection => Execute(connection, pragma),
                (connection, _) =>
                {
                    Execute(connection, pragma);
                    return Task.CompletedTask;
                });
        return new DataOptionsSetup(options);
    }

    private static void Execute(DbConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    // Default Timeout doubles as the busy timeout: concurrent writers wait instead of failing.
    private static string SqliteConnectionString(string file) => $"Data Source={file};Pooling=True;Default Timeout=60";

    private static Config Sql(string connectionString, string providerName)
    {
        var quoted = Quote(connectionString);
        // The plugin's own reference configuration (class names, table mappings) sits underneath.
        return ConfigurationFactory.ParseString($$"""
            akka.persistence.journal.sql { connection-string = {{quoted}}, provider-name = "{{providerName}}" }
            akka.persistence.snapshot-store.sql { connection-string = {{quoted}}, provider-name = "{{providerName}}" }
            akka.persistence.query.journal.sql { connection-string = {{quoted}}, provider-name = "{{providerName}}" }
            """).WithFallback(Akka.Persistence.Sql.SqlPersistence.DefaultConfiguration);
    }

    /// <summary>
    /// WAL lets snapshot reads and journal writes proceed side by side; the mode is stored in the
    /// file, so setting it once before the plugins open their connections is enough.
    /// </summary>
    private static void PrepareSqlite(string file)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(file)!);
        using var connection = new SqliteConnection($"Data Source={file};Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA journal_mode=WAL;";
        command.ExecuteNonQuery();
    }

    private static string Quote(string value) =>
        "\"" + value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";
}
