using Akka.Configuration;
using AnomalyActors.Core.Configuration;

namespace AnomalyActors.Node.Hosting;

/// <summary>Loads the node's HOCON: overrides first, then hocon/anomaly-actors.conf, then hocon/akka.conf.</summary>
public static class NodeConfig
{
    public const string ApplicationFile = "anomaly-actors.conf";
    public const string AkkaFile = "akka.conf";

    /// <summary>The hocon folder shipped next to the program.</summary>
    public static string DefaultDirectory => Path.Combine(AppContext.BaseDirectory, "hocon");

    /// <summary>
    /// Per-deployment values taken from the environment (the keys are marked "environment: NAME" in
    /// the hocon files). Explicit instead of HOCON's ${?NAME}, which Akka's parser mishandles when
    /// the same key also has a default.
    /// </summary>
    public static IReadOnlyList<(string Variable, string Key)> EnvironmentOverrides { get; } =
    [
        ("ANOMALY_ACTORS_DATA_DIR", "anomaly-actors.data-dir"),
        ("ANOMALY_ACTORS_PERSISTENCE", "anomaly-actors.persistence.provider"),
        ("ANOMALY_ACTORS_POSTGRES", "anomaly-actors.persistence.postgresql.connection-string"),
        ("ANOMALY_ACTORS_PARTITIONS", "anomaly-actors.intake.partitions"),
        ("ANOMALY_ACTORS_MQTT", "anomaly-actors.mqtt.enabled"),
        // One variable moves the embedded broker and the subscriber together, so they stay in step.
        ("ANOMALY_ACTORS_MQTT_HOST", "anomaly-actors.mqtt.broker.host"),
        ("ANOMALY_ACTORS_MQTT_HOST", "anomaly-actors.mqtt.subscriber.host"),
        ("ANOMALY_ACTORS_MQTT_PORT", "anomaly-actors.mqtt.broker.port"),
        ("ANOMALY_ACTORS_MQTT_PORT", "anomaly-actors.mqtt.subscriber.port"),
        ("ANOMALY_ACTORS_MQTT_CLIENT_ID", "anomaly-actors.mqtt.subscriber.client-id"),
        ("ANOMALY_ACTORS_MQTT_USERNAME", "anomaly-actors.mqtt.subscriber.username"),
        ("ANOMALY_ACTORS_MQTT_PASSWORD", "anomaly-actors.mqtt.subscriber.password"),
        ("ANOMALY_ACTORS_MQTT_EMBEDDED", "anomaly-actors.mqtt.broker.embedded"),
        ("ANOMALY_ACTORS_MQTT_IN_CLUSTER", "anomaly-actors.mqtt.subscriber.in-cluster"),
        // Kafka as a source and results sink.
        ("ANOMALY_ACTORS_KAFKA", "anomaly-actors.kafka.enabled"),
        ("ANOMALY_ACTORS_KAFKA_BOOTSTRAP", "anomaly-actors.kafka.bootstrap-servers"),
        ("ANOMALY_ACTORS_KAFKA_GROUP", "anomaly-actors.kafka.group-id"),
        ("ANOMALY_ACTORS_KAFKA_READINGS_TOPIC", "anomaly-actors.kafka.readings-topic"),
        ("ANOMALY_ACTORS_SITE", "anomaly-actors.site"),
        ("ANOMALY_ACTORS_ARCHIVE", "anomaly-actors.archive.enabled"),
        ("ANOMALY_ACTORS_ARCHIVE_ROOT", "anomaly-actors.archive.root"),
        ("ANOMALY_ACTORS_MODELS", "anomaly-actors.models.enabled"),
        ("ANOMALY_ACTORS_MODELS_ROOT", "anomaly-actors.models.root"),
        ("ANOMALY_ACTORS_WEB", "anomaly-actors.web.enabled"),
        ("ANOMALY_ACTORS_WEB_HOST", "anomaly-actors.web.host"),
        ("ANOMALY_ACTORS_WEB_PORT", "anomaly-actors.web.port"),
        ("ANOMALY_ACTORS_WEB_TOKEN", "anomaly-actors.web.token"),
        ("ANOMALY_ACTORS_GLOBAL_KAFKA", "anomaly-actors.global.bootstrap-servers"),
        ("ANOMALY_ACTORS_LOGLEVEL", "akka.loglevel"),
        ("ANOMALY_ACTORS_HOST", "akka.remote.dot-netty.tcp.hostname"),
        ("ANOMALY_ACTORS_PORT", "akka.remote.dot-netty.tcp.port"),
        // Lists: comma-separated.
        ("ANOMALY_ACTORS_SEEDS", "akka.cluster.seed-nodes"),
        ("ANOMALY_ACTORS_ROLES", "akka.cluster.roles"),
    ];

    private static readonly HashSet<string> ListKeys = new(StringComparer.Ordinal) { "akka.cluster.seed-nodes", "akka.cluster.roles" };

    /// <summary>Precedence: <paramref name="overrides"/>, then the environment, then the files.</summary>
    public static (Config Config, ConfigOrigin Origin) Load(Config? overrides = null, string? directory = null)
    {
        directory ??= DefaultDirectory;
        var application = Parse(Path.Combine(directory, ApplicationFile));
        var akka = Parse(Path.Combine(directory, AkkaFile));
        var (environment, fromEnvironment) = FromEnvironment();
        var merged = environment.WithFallback(application).WithFallback(akka);
        var overridden = new HashSet<string>(StringComparer.Ordinal);
        if (overrides is not null && !overrides.IsEmpty)
        {
            merged = overrides.WithFallback(merged);
            foreach (var (key, value) in overrides.Root.GetObject().Items)
            {
                overridden.UnionWith(ConfigOrigin.Leaves(value, key));
            }
        }

        return (merged, new ConfigOrigin(Path.Combine(directory, ApplicationFile), fromEnvironment, overridden, Path.Combine(directory, AkkaFile)));
    }

    private static (Config Config, Dictionary<string, string> Keys) FromEnvironment()
    {
        var lines = new List<string>();
        var keys = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (variable, key) in EnvironmentOverrides)
        {
            var value = Environment.GetEnvironmentVariable(variable);
            if (!string.IsNullOrEmpty(value))
            {
                lines.Add(ListKeys.Contains(key)
                    ? $"{key} = [{string.Join(", ", value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(HoconText.Quote))}]"
                    : $"{key} = {HoconText.Quote(value)}");
                keys[key] = variable;
            }
        }

        return (lines.Count == 0 ? Config.Empty : ConfigurationFactory.ParseString(string.Join("\n", lines)), keys);
    }

    private static Config Parse(string path)
    {
        if (!File.Exists(path))
        {
            throw new ConfigurationException($"Configuration file '{path}' does not exist.");
        }

        var text = File.ReadAllText(path);
        HoconChecker.Check(text, path);
        try
        {
            return ConfigurationFactory.ParseString(text);
        }
        catch (Exception e)
        {
            throw new ConfigurationException($"Configuration file '{path}' is not valid HOCON: {e.Message}", e);
        }
    }
}
