using Akka.Configuration;

namespace AnomalyActors.Node.Settings;

public enum PersistenceProvider
{
    Sqlite,
    PostgreSql,

    /// <summary>Nothing durable: measures what durability costs.</summary>
    None,
}

/// <summary>The <c>anomaly-actors</c> section, parsed once.</summary>
public sealed record NodeSettings(
    string DataDirectory,
    PersistenceSettings Persistence,
    IntakeSettings Intake,
    SensorSettings Sensor,
    AlertSettings Alerts,
    DetectionSettings Detection)
{
    public static NodeSettings FromConfig(Config root, string source)
    {
        var c = Section(root, "anomaly-actors", source);
        var dataDirectory = Path.GetFullPath(Required(c, "data-dir", source));
        return new NodeSettings(
            dataDirectory,
            PersistenceSettings.FromConfig(Section(c, "persistence", source), dataDirectory, source),
            IntakeSettings.FromConfig(Section(c, "intake", source), source),
            SensorSettings.FromConfig(Section(c, "sensor", source), source),
            AlertSettings.FromConfig(Section(c, "alerts", source), dataDirectory),
            DetectionSettings.FromConfig(Section(c, "detection", source), source));
    }

    internal static Config Section(Config config, string path, string source)
    {
        var section = config.GetConfig(path);
        if (section is null || section.IsEmpty)
        {
            throw new ConfigurationException($"Missing configuration section '{path}' ({source}).");
        }

        return section;
    }

    internal static string Required(Config config, string key, string source)
    {
        var value = config.GetString(key, null);
        if (string.IsNullOrWhiteSpace(value))
        {
            throw new ConfigurationException($"Missing or empty configuration key '{key}' ({source}).");
        }

        return value;
    }

    internal static int PositiveInt(Config config, string key, string source)
    {
        var value = config.GetInt(key, 0);
        if (value < 1)
        {
            throw new ConfigurationException($"Configuration key '{key}' must be a positive integer ({source}).");
        }

        return value;
    }

    internal static TimeSpan PositiveDuration(Config config, string key, string source)
    {
        var value = config.GetTimeSpan(key, TimeSpan.Zero, allowInfinite: false);
        if (value <= TimeSpan.Zero)
        {
            throw new ConfigurationException($"Configuration key '{key}' must be a positive duration ({source}).");
        }

        return value;
    }
}

public sealed record PersistenceSettings(PersistenceProvider Provider, string SqliteFile, string SqliteSynchronous, string PostgresConnectionString)
{
    public static PersistenceSettings FromConfig(Config c, string dataDirectory, string source)
    {
        var providerName = NodeSettings.Required(c, "provider", source);
        var provider = providerName.ToLowerInvariant() switch
        {
            "sqlite" => PersistenceProvider.Sqlite,
            "postgresql" or "postgres" => PersistenceProvider.PostgreSql,
            "none" => PersistenceProvider.None,
            _ => throw new ConfigurationException(
                $"Configuration key 'anomaly-actors.persistence.provider' is '{providerName}'; expected sqlite, postgresql or none ({source})."),
        };
        var sqliteFile = Path.Combine(dataDirectory, NodeSettings.Required(c, "sqlite.file", source));
        var postgres = c.GetString("postgresql.connection-string", string.Empty) ?? string.Empty;
        if (provider == PersistenceProvider.PostgreSql && string.IsNullOrWhiteSpace(postgres))
        {
            throw new ConfigurationException(
                $"anomaly-actors.persistence.provider is postgresql but 'anomaly-actors.persistence.postgresql.connection-string' is empty (set it or ANOMALY_ACTORS_POSTGRES; {source}).");
        }

        var synchronous = (c.GetString("sqlite.synchronous", "normal") ?? "normal").ToUpperInvariant();
        if (synchronous is not ("NORMAL" or "FULL"))
        {
            throw new ConfigurationException(
                $"Configuration key 'anomaly-actors.persistence.sqlite.synchronous' is '{synchronous}'; expected normal or full ({source}).");
        }

        return new PersistenceSettings(provider, sqliteFile, synchronous, postgres);
    }
}

public sealed record IntakeSettings(int Partitions, TimeSpan AppendTimeout, TimeSpan TrimInterval)
{
    public static IntakeSettings FromConfig(Config c, string source) => new(
        NodeSettings.PositiveInt(c, "partitions", source),
        NodeSettings.PositiveDuration(c, "append-timeout", source),
        NodeSettings.PositiveDuration(c, "trim-interval", source));
}

public sealed record SensorSettings(int CloseAfterInBand, long SnapshotEveryReadings, TimeSpan SnapshotInterval, TimeSpan PassivateIdleAfter)
{
    public static SensorSettings FromConfig(Config c, string source) => new(
        NodeSettings.PositiveInt(c, "close-after-in-band", source),
        NodeSettings.PositiveInt(c, "snapshot-every-readings", source),
        NodeSettings.PositiveDuration(c, "snapshot-interval", source),
        NodeSettings.PositiveDuration(c, "passivate-idle-after", source));
}

public sealed record AlertSettings(bool Console, string? FilePath)
{
    public static AlertSettings FromConfig(Config c, string dataDirectory)
    {
        var file = c.GetString("file", string.Empty);
        return new AlertSettings(c.GetBoolean("console", true), string.IsNullOrWhiteSpace(file) ? null : Path.Combine(dataDirectory, file));
    }
}
