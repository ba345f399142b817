using Akka.Configuration;
using AnomalyActors.Core.Configuration;

namespace AnomalyActors.Kafka;

/// <summary>The <c>anomaly-actors.kafka</c> section, parsed once.</summary>
public sealed record KafkaSettings(
    bool Enabled,
    string BootstrapServers,
    string GroupId,
    string ReadingsTopic,
    string EnrichedTopic,
    string AlertsTopic,
    string DeadLettersTopic,
    int MaxBatch,
    TimeSpan CommitInterval,
    TimeSpan SessionTimeout,
    TimeSpan DeliveryCheckAfter,
    int PartitionBuffer,
    IReadOnlyDictionary<string, string> ConsumerProperties,
    IReadOnlyDictionary<string, string> ProducerProperties,
    bool BridgeMqtt = false)
{
    public const string Path = "anomaly-actors.kafka";

    public bool PublishEnriched => EnrichedTopic.Length > 0;

    /// <summary>Whether the node talks to Kafka at all (as a source, a results sink or a bridge).</summary>
    public bool Used => Enabled || BridgeMqtt;

    /// <summary>
    /// A consumer of the site's cluster that never commits (it reads assigned partitions or
    /// watermarks), in the group named <see cref="GroupId"/> and <paramref name="groupSuffix"/>,
    /// with the configured consumer properties (security) on top.
    /// </summary>
    public Confluent.Kafka.ConsumerConfig ReaderConfig(string groupSuffix)
    {
        var config = new Confluent.Kafka.ConsumerConfig
        {
            BootstrapServers = BootstrapServers,
            GroupId = GroupId + groupSuffix,
            EnableAutoCommit = false,
            EnableAutoOffsetStore = false,
        };
        foreach (var (key, value) in ConsumerProperties)
        {
            config.Set(key, value);
        }

        return config;
    }

    /// <summary>An admin client's configuration for the site's cluster, with the consumer properties (security).</summary>
    public Confluent.Kafka.AdminClientConfig AdminConfig()
    {
        var config = new Confluent.Kafka.AdminClientConfig { BootstrapServers = BootstrapServers };
        foreach (var (key, value) in ConsumerProperties)
        {
            config.Set(key, value);
        }

        return config;
    }

    public static KafkaSettings FromConfig(Config root, ConfigOrigin source)
    {
        var c = new SettingsReader(root, Path, source);
        var settings = new KafkaSettings(
            c.Flag("enabled", false),
            c.OptionalText("bootstrap-servers", string.Empty)!,
            c.Text("group-id"),
            c.Text("readings-topic"),
            c.OptionalText("enriched-topic", string.Empty)!,
            c.Text("alerts-topic"),
            c.Text("dead-letters-topic"),
            c.PositiveInt("max-batch"),
            c.PositiveDuration("commit-interval"),
            c.PositiveDuration("session-timeout"),
            c.PositiveDuration("delivery-check-after"),
            c.PositiveInt("partition-buffer"),
            Properties(c, "consumer-properties"),
            Properties(c, "producer-properties"),
            c.Flag("bridge-mqtt", false));
        if (settings.Used && string.IsNullOrWhiteSpace(settings.BootstrapServers))
        {
            throw new ConfigurationException(
                $"{c.Key("enabled")} or {c.Key("bridge-mqtt")} is on but '{c.Key("bootstrap-servers")}' is empty (set it or ANOMALY_ACTORS_KAFKA_BOOTSTRAP; {source}).");
        }

        return settings;
    }

    private static Dictionary<string, string> Properties(SettingsReader c, string key)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        if (!c.Has(key))
        {
            return result;
        }

        var section = c.Section.GetConfig(key);
        if (section is null || section.IsEmpty)
        {
            return result;
        }

        foreach (var entry in section.AsEnumerable())
        {
            result[entry.Key.Trim('"')] = entry.Value.GetString();
        }

        return result;
    }
}
