using Akka.Configuration;
using AnomalyActors.Archive;
using AnomalyActors.Core.Configuration;
using AnomalyActors.Ingestion;
using AnomalyActors.Kafka;
using AnomalyActors.Mqtt;
using AnomalyActors.Node.Hosting;
using AnomalyActors.Node.Settings;
using AnomalyActors.Notifications;
using AnomalyActors.Notifications.Log;
using AnomalyActors.Replication;
using AnomalyActors.Web;

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
    ConfigOrigin Source,
    NodeSettings Node,
    IngestionSettings Ingestion,
    MqttSettings Mqtt,
    KafkaSettings Kafka,
    ArchiveSettings Archive,
    WebSettings Web,
    NotificationSettings Notifications,
    GlobalSettings Global,
    AnomalyActors.Models.ModelSettings Models)
{
    /// <summary>The configuration files (hocon/) under the environment's values and <paramref name="overrides"/>.</summary>
    public static AnomalyActorsSettings Load(Config? overrides = null, string? hoconDirectory = null)
    {
        var (config, source) = NodeConfig.Load(overrides, hoconDirectory);
        return FromConfig(config, source);
    }

    public static AnomalyActorsSettings FromConfig(Config config, ConfigOrigin source)
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

        var kafka = KafkaSettings.FromConfig(config, source);
        var archive = ArchiveSettings.FromConfig(config, node.DataDirectory, node.Site, source);
        var web = WebSettings.FromConfig(config, source);
        var notifications = NotificationSettings.FromConfig(config, source);
        var global = GlobalSettings.FromConfig(config, source);
        var models = AnomalyActors.Models.ModelSettings.FromConfig(config, node.DataDirectory, archive, source);

        // The node's cluster endpoint: Akka reads it itself, and reports a bad value as a nest of
        // exceptions without the key.
        var remote = new SettingsReader(config, "akka.remote.dot-netty.tcp", source);
        remote.Text("hostname");
        var port = remote.Port("port");
        if (node.Cluster.Clustered && mqtt.Enabled && !mqtt.Broker.Embedded && mqtt.Subscriber.InCluster == ClusterSubscription.Shared && port == 0)
        {
            throw new ConfigurationException(
                $"'{MqttSettings.Path}.subscriber.in-cluster' is shared, which names each member's MQTT session after its cluster port, but 'akka.remote.dot-netty.tcp.port' is 0 (any free port), so a restarted member would not find its session and the messages the broker holds for it. Give the member a fixed port (ANOMALY_ACTORS_PORT) ({source.Of("akka.remote.dot-netty.tcp.port")}).");
        }

        // A key nobody reads is a typo (or a setting of another version): refused, with the nearest
        // known key. The property maps of the Kafka clients are librdkafka's to judge.
        source.RejectUnknownKeys(config, NodeSettings.Path, [$"{KafkaSettings.Path}.consumer-properties", $"{KafkaSettings.Path}.producer-properties"]);
        // The modules' own Akka settings (serializer bindings) under everything else.
        return new AnomalyActorsSettings(config.WithFallback(NotificationSerializer.AkkaConfig), source, node, ingestion, mqtt, kafka, archive, web, notifications, global, models);
    }
}
