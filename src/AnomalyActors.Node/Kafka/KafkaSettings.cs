using Akka.Configuration;
using AnomalyActors.Node.Settings;

namespace AnomalyActors.Node.Kafka;

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
    int PartitionBuffer,
    IReadOnlyDictionary<string, string> ConsumerProperties,
    IReadOnlyDictionary<string, string> ProducerProperties,
    bool BridgeMqtt = false,
    bool JournalEpisodes = false)
{
    public bool PublishEnriched => EnrichedTopic.Length > 0;

    public static KafkaSettings FromConfig(Config root, string source)
    {
        var c = root.GetConfig("anomaly-actors.kafka");
        if (c is null || c.IsEmpty)
        {
            throw new ConfigurationException($"Missing configuration section 'anomaly-actors.kafka' ({source}).");
        }

        var enabled = c.GetBoolean("enabled", false);
        var settings = new KafkaSettings(
            enabled,
            c.GetString("bootstrap-servers", string.Empty) ?? string.Empty,
            NodeSettings.Required(c, "group-id", source),
            NodeSettings.Required(c, "readings-topic", source),
            c.GetString("enriched-topic", string.Empty) ?? string.Empty,
            NodeSettings.Required(c, "alerts-topic", source),
            NodeSettings.Required(c, "dead-letters-topic", source),
            NodeSettings.PositiveInt(c, "max-batch", source),
            NodeSettings.PositiveDuration(c, "commit-interval", source),
            NodeSettings.PositiveDuration(c, "session-timeout", source),
            NodeSettings.PositiveInt(c, "partition-buffer", source),
            Properties(c, "consumer-properties"),
            Properties(c, "producer-properties"),
            c.GetBoolean("bridge-mqtt", false),
            c.GetBoolean("journal-episodes", false));
        if ((enabled || settings.BridgeMqtt) && string.IsNullOrWhiteSpace(settings.BootstrapServers))
        {
            throw new ConfigurationException(
                $"anomaly-actors.kafka.enabled or bridge-mqtt is on but 'anomaly-actors.kafka.bootstrap-servers' is empty (set it or ANOMALY_ACTORS_KAFKA_BOOTSTRAP; {source}).");
        }

        return settings;
    }

    private static Dictionary<string, string> Properties(Config c, string path)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        var section = c.GetConfig(path);
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
