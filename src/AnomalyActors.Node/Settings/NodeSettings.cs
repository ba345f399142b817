using Akka.Configuration;
using AnomalyActors.Core.Configuration;

namespace AnomalyActors.Node.Settings;

public enum PersistenceProvider
{
    Sqlite,
    PostgreSql,

    /// <summary>Nothing durable: measures what durability costs.</summary>
    None,
}

/// <summary>The node's part of the <c>anomaly-actors</c> section, parsed once.</summary>
public sealed record NodeSettings(
    string DataDirectory,
    PersistenceSettings Persistence,
    IntakeSettings Intake,
    SensorSettings Sensor,
    AlertSettings Alerts,
    DeadLetterSettings DeadLetters,
    DetectionSettings Detection)
{
    /// <summary>The Akka cluster this node joins; no seeds: a cluster of its own.</summary>
    public ClusterSettings Cluster { get; init; } = ClusterSettings.Single;

    /// <summary>This site's name (<c>anomaly-actors.site</c>): every record the node produces carries it.</summary>
    public string Site { get; init; } = "local";

    public const string Path = "anomaly-actors";

    public static NodeSettings FromConfig(Config root, ConfigOrigin source)
    {
        var c = new SettingsReader(root, Path, source);
        var dataDirectory = System.IO.Path.GetFullPath(c.Text("data-dir"));
        var site = c.Text("site");
        if (!SiteName.IsValid(site))
        {
            throw c.Invalid("site", site, SiteName.Rule);
        }

        var persistence = PersistenceSettings.FromConfig(c.Child("persistence"), dataDirectory);
        return new NodeSettings(
            dataDirectory,
            persistence,
            IntakeSettings.FromConfig(c.Child("intake")),
            SensorSettings.FromConfig(c.Child("sensor")),
            AlertSettings.FromConfig(c.Child("alerts"), dataDirectory),
            DeadLetterSettings.FromConfig(c.Child("dead-letters"), dataDirectory),
            DetectionSettings.FromConfig(c.Child("detection")))
        {
            Cluster = ClusterSettings.FromConfig(root, source, persistence.Provider),
            Site = site,
        };
    }
}

/// <param name="Seeds">Seed node addresses (akka.tcp://system@host:port); empty: the node is a cluster of its own.</param>
/// <param name="Roles">The member's roles.</param>
/// <param name="SeedsOrigin">Where the seeds came from, named in errors.</param>
public sealed record ClusterSettings(IReadOnlyList<Akka.Actor.Address> Seeds, IReadOnlyList<string> Roles, string SeedsOrigin)
{
    public const string SeedsKey = "akka.cluster.seed-nodes";

    public static ClusterSettings Single { get; } = new([], [], string.Empty);

    public bool Clustered => Seeds.Count > 0;

    /// <summary>
    /// Reads and checks the seeds: each must be an Akka address, and a node that joins others must
    /// share their store (SQLite is one process's file; only PostgreSQL serves several members).
    /// </summary>
    public static ClusterSettings FromConfig(Config root, ConfigOrigin source, PersistenceProvider provider)
    {
        var origin = source.Of(SeedsKey);
        var seeds = new List<Akka.Actor.Address>();
        foreach (var seed in root.GetStringList(SeedsKey) ?? [])
        {
            try
            {
                seeds.Add(Akka.Actor.Address.Parse(seed));
            }
            catch (Exception e) when (e is UriFormatException or ArgumentException or FormatException)
            {
                throw new ConfigurationException(
                    $"Configuration key '{SeedsKey}' has '{seed}', which is not a node address; expected akka.tcp://anomaly-actors@HOST:PORT ({origin}).", e);
            }
        }

        // Without a store (the global layer, a throwaway site) there is nothing to share.
        if (seeds.Count > 0 && provider == PersistenceProvider.Sqlite)
        {
            var providerKey = NodeSettings.Path + ".persistence.provider";
            throw new ConfigurationException(
                $"Configuration key '{SeedsKey}' lists {seeds.Count} seed node(s) ({origin}), but '{providerKey}' is {provider.ToString().ToLowerInvariant()} ({source.Of(providerKey)}): " +
                "the members of a cluster must share one store, and SQLite is one process's file. Use postgresql (ANOMALY_ACTORS_PERSISTENCE=postgresql and ANOMALY_ACTORS_POSTGRES), or no seeds for a single node.");
        }

        return new ClusterSettings(seeds, [.. root.GetStringList("akka.cluster.roles") ?? []], origin);
    }
}


public sealed record PersistenceSettings(PersistenceProvider Provider, string SqliteFile, string SqliteSynchronous, string PostgresConnectionString)
{
    public static PersistenceSettings FromConfig(SettingsReader c, string dataDirectory)
    {
        var provider = c.Choice("provider", new Dictionary<string, PersistenceProvider>
        {
            ["sqlite"] = PersistenceProvider.Sqlite,
            ["postgresql"] = PersistenceProvider.PostgreSql,
            ["postgres"] = PersistenceProvider.PostgreSql,
            ["none"] = PersistenceProvider.None,
        });
        var sqliteFile = System.IO.Path.Combine(dataDirectory, c.Text("sqlite.file"));
        var postgres = c.OptionalText("postgresql.connection-string", string.Empty)!;
        if (provider == PersistenceProvider.PostgreSql && string.IsNullOrWhiteSpace(postgres))
        {
            throw new ConfigurationException(
                $"{c.Key("provider")} is postgresql but '{c.Key("postgresql.connection-string")}' is empty (set it or ANOMALY_ACTORS_POSTGRES; {c.Origin.Of(c.Key("provider"))}).");
        }

        var synchronous = c.Choice("sqlite.synchronous", new Dictionary<string, string> { ["normal"] = "NORMAL", ["full"] = "FULL" });
        return new PersistenceSettings(provider, sqliteFile, synchronous, postgres);
    }
}

/// <param name="DeliveryKeysSaveInterval">
/// How often at most a partition saves its table of stored message keys, which it must do before it
/// deletes chunks that carry keys still in the table.
/// </param>
/// <param name="DeliveryCheckAfter">How long a stream stays quiet before its partition asks whether it applied its last readings.</param>
public sealed record IntakeSettings(int Partitions, TimeSpan AppendTimeout, TimeSpan TrimInterval, TimeSpan DeliveryKeysSaveInterval, TimeSpan DeliveryCheckAfter)
{
    public static IntakeSettings FromConfig(SettingsReader c) => new(
        c.PositiveInt("partitions"),
        c.PositiveDuration("append-timeout"),
        c.PositiveDuration("trim-interval"),
        c.PositiveDuration("delivery-keys-save-interval"),
        c.PositiveDuration("delivery-check-after"));
}

/// <param name="JournalEpisodes">
/// Also journal each episode transition. Off: the results sink's confirmation is the record (no
/// snapshot covers a reading whose alert is unconfirmed, and a replay of the log derives the same
/// transition with the same id).
/// </param>
/// <param name="RedeliveryTimeout">How long a sensor waits for a re-delivery before it asks again.</param>
public sealed record SensorSettings(
    int CloseAfterInBand,
    long SnapshotEveryReadings,
    TimeSpan SnapshotInterval,
    TimeSpan PassivateIdleAfter,
    TimeSpan RedeliveryTimeout,
    bool JournalEpisodes)
{
    public static SensorSettings FromConfig(SettingsReader c) => new(
        c.PositiveInt("close-after-in-band"),
        c.PositiveInt("snapshot-every-readings"),
        c.PositiveDuration("snapshot-interval"),
        c.PositiveDuration("passivate-idle-after"),
        c.PositiveDuration("redelivery-timeout"),
        c.Flag("journal-episodes", false));
}

public sealed record AlertSettings(bool Console, string? FilePath)
{
    public static AlertSettings FromConfig(SettingsReader c, string dataDirectory) =>
        new(c.Flag("console", true), c.OptionalText("file") is { } file ? System.IO.Path.Combine(dataDirectory, file) : null);
}

/// <param name="FilePath">The dead-letter file, null when disabled.</param>
/// <param name="MaxPayloadChars">How much of a payload a dead letter keeps.</param>
public sealed record DeadLetterSettings(string? FilePath, int MaxPayloadChars)
{
    public static DeadLetterSettings FromConfig(SettingsReader c, string dataDirectory) =>
        new(c.OptionalText("file") is { } file ? System.IO.Path.Combine(dataDirectory, file) : null, c.Int("max-payload-chars", minimum: 16));
}
