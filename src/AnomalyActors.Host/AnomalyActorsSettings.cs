using Akka.Configuration;
using AnomalyActors.Ingestion;
using AnomalyActors.Kafka;
using AnomalyActors.Mqtt;
using AnomalyActors.Node.Hosting;
using AnomalyActors.Node.Settings;

namespace AnomalyActors.Host;

/// <summary>
/// Every setting of a node, parsed once from the configuration before anything starts, so a wrong
/// value is reported with its key before an ActorSystem, a broker or a consumer exists. Each layer
/// parses its own section; this is where they meet and are handed down.
/// </summary>
/// <param name="Config">The merged configuration (overrides, environment, files): Akka reads its own part.</param>
/// <param name="Source">Where the configuration came from, named in errors.</param>
public sealed record AnomalyActorsSettings(
    Config Config,
    string Source,
    NodeSettings Node,
    IngestionSettings Ingestion,
    MqttSettings Mqtt,
    KafkaSettings Kafka)
{
    /// <summary>The configuration files (hocon/) under the environment's values and <paramref name="overrides"/>.</summary>
    public static AnomalyActorsSettings Load(Config? overrides = null, string? hoconDirectory = null)
    {
        var (config, source) = NodeConfig.Load(overrides, hoconDirectory);
        return FromConfig(config, source);
    }

    public static AnomalyActorsSettings FromConfig(Config config, string source)
    {
        var node = NodeSettings.FromConfig(config, source);
        var ingestion = IngestionSettings.FromConfig(config, source);
        var mqtt = MqttSettings.FromConfig(config, node.DataDirectory, source);
        var room = ingestion.MaxPayloadBytes + 3 * ingestion.MaxTopicLength + 64;
        if (mqtt.Enabled && mqtt.Broker.Embedded && mqtt.Broker.MaxPacketBytes < room)
        {
            throw new ConfigurationException(
                $"Configuration key '{MqttSettings.Path}.broker.max-packet-bytes' is {mqtt.Broker.MaxPacketBytes}; expected at least {room}, " +
                $"room for '{IngestionSettings.Path}.max-payload-bytes' ({ingestion.MaxPayloadBytes}) with a topic and headers ({source}).");
        }

        return new AnomalyActorsSettings(config, source, node, ingestion, mqtt, KafkaSettings.FromConfig(config, source));
    }
}
