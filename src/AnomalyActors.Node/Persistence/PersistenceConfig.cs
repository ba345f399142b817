using Akka.Configuration;
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
                // Default Timeout doubles as the busy timeout: concurrent writers wait instead of failing.
                return Sql($"Data Source={settings.SqliteFile};Pooling=True;Default Timeout=60", "SQLite.MS");
            case PersistenceProvider.PostgreSql:
                return Sql(settings.PostgresConnectionString, "PostgreSQL.15");
            default:
                throw new ArgumentOutOfRangeException(nameof(settings));
        }
    }

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
