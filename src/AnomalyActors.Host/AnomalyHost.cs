using Akka.Configuration;
using Akka.Event;
using AnomalyActors.Ingestion;
using AnomalyActors.Ingestion.DeadLetters;
using AnomalyActors.Ingestion.Intake;
using AnomalyActors.Mqtt;
using AnomalyActors.Node.Hosting;

namespace AnomalyActors.Host;

/// <summary>
/// A node with its sources: the actor node (durable intake, sensors, alerts), then the embedded
/// broker, then the MQTT subscriber feeding the intake. Stopping runs the other way round: sources
/// first (nothing unacknowledged is lost: the broker keeps it), then the node with its final
/// snapshots, then the broker.
/// </summary>
public sealed class AnomalyHost : IAsyncDisposable
{
    private AnomalyHost(AnomalyNode node, IngestionSettings ingestion, MqttSettings mqtt, DeadLetterFile? deadLetters, EmbeddedBroker? broker, MqttIngestion? mqttIngestion)
    {
        Node = node;
        IngestionSettings = ingestion;
        MqttSettings = mqtt;
        DeadLetters = deadLetters;
        Broker = broker;
        MqttIngestion = mqttIngestion;
    }

    public AnomalyNode Node { get; }
    public IngestionSettings IngestionSettings { get; }
    public MqttSettings MqttSettings { get; }
    public DeadLetterFile? DeadLetters { get; }
    public EmbeddedBroker? Broker { get; }
    public MqttIngestion? MqttIngestion { get; }

    /// <summary>A ready intake client for sources in this process (replay, benchmarks).</summary>
    public IReadingIntake Intake => new ActorReadingIntake(Node.Intake, Node.Settings.Intake.AppendTimeout + TimeSpan.FromSeconds(5));

    public static async Task<AnomalyHost> StartAsync(Config? overrides = null, string? hoconDirectory = null, string systemName = "anomaly-actors")
    {
        var (config, source) = NodeConfig.Load(overrides, hoconDirectory);
        // Everything is parsed before anything starts, so a configuration error names its key
        // and file without leaving half a node running.
        var ingestionSection = config.GetConfig(IngestionSettings.Path)
            ?? throw new ConfigurationException($"Missing configuration section '{IngestionSettings.Path}' ({source}).");
        var dataDirectory = Path.GetFullPath(config.GetString("anomaly-actors.data-dir", "data"));
        var ingestion = IngestionSettings.FromConfig(ingestionSection, dataDirectory, source);
        var mqtt = MqttSettings.FromConfig(config, dataDirectory, source);

        var node = await AnomalyNode.StartWithConfigAsync(config, source, systemName).ConfigureAwait(false);
        DeadLetterFile? deadLetters = null;
        EmbeddedBroker? broker = null;
        MqttIngestion? subscriber = null;
        try
        {
            var log = node.System.Log;
            deadLetters = ingestion.DeadLetterFile is { } file ? new DeadLetterFile(file, ingestion.DeadLetterPayloadChars) : null;
            if (mqtt.Enabled)
            {
                if (mqtt.Broker.Embedded)
                {
                    broker = await EmbeddedBroker.StartAsync(mqtt.Broker, message => log.Warning("{0}", message)).ConfigureAwait(false);
                    log.Info("Embedded MQTT broker listening on {0}:{1}{2}", mqtt.Broker.Host, mqtt.Broker.Port,
                        mqtt.Broker.TlsEnabled ? $" and TLS on {mqtt.Broker.TlsPort}" : string.Empty);
                }

                var intakeTimeout = node.Settings.Intake.AppendTimeout + TimeSpan.FromSeconds(5);
                IReadingIntake intake = new ActorReadingIntake(node.Intake, intakeTimeout);
                if (global::AnomalyActors.Node.Kafka.KafkaSettings.FromConfig(config, source) is { BridgeMqtt: true } kafka)
                {
                    // Bridge mode: MQTT readings go to the site's Kafka readings topic (issue 4).
                    var bridge = new global::AnomalyActors.Node.Kafka.KafkaBridgeIntake(kafka, "anomaly-actors-bridge-" + systemName, intakeTimeout);
                    _ = node.System.WhenTerminated.ContinueWith(_ => bridge.Dispose(), TaskScheduler.Default);
                    intake = bridge;
                    log.Info("MQTT readings are bridged to Kafka topic {0} at {1}", kafka.ReadingsTopic, kafka.BootstrapServers);
                }

                subscriber = new MqttIngestion(node.System, mqtt.Subscriber, ingestion, intake, deadLetters, message => log.Warning("{0}", message));
                await subscriber.StartAsync(TimeSpan.FromSeconds(30)).ConfigureAwait(false);
                log.Info("Ingesting MQTT topic filter '{0}' from {1}:{2} at QoS {3}",
                    mqtt.Subscriber.TopicFilter, mqtt.Subscriber.Host, mqtt.Subscriber.Port, (int)mqtt.Subscriber.Qos);
            }

            return new AnomalyHost(node, ingestion, mqtt, deadLetters, broker, subscriber);
        }
        catch
        {
            if (subscriber is not null)
            {
                await subscriber.DisposeAsync().ConfigureAwait(false);
            }

            await node.StopAsync().ConfigureAwait(false);
            if (broker is not null)
            {
                await broker.DisposeAsync().ConfigureAwait(false);
            }

            deadLetters?.Dispose();
            throw;
        }
    }

    /// <summary>Graceful stop: sources, then the node (final snapshots), then the broker.</summary>
    public async Task StopAsync()
    {
        if (MqttIngestion is not null)
        {
            await MqttIngestion.DisposeAsync().ConfigureAwait(false);
        }

        await Node.StopAsync().ConfigureAwait(false);
        if (Broker is not null)
        {
            await Broker.DisposeAsync().ConfigureAwait(false);
        }

        DeadLetters?.Dispose();
    }

    public async ValueTask DisposeAsync()
    {
        if (!Node.System.WhenTerminated.IsCompleted)
        {
            await StopAsync().ConfigureAwait(false);
        }
    }
}
