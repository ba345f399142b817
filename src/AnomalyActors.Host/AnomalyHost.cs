using Akka.Actor;
using Akka.Configuration;
using Akka.Event;
using AnomalyActors.Archive.Collecting;
using AnomalyActors.Core.Configuration;
using AnomalyActors.Core.Models;
using AnomalyActors.Core.Results;
using AnomalyActors.Ingestion.DeadLetters;
using AnomalyActors.Ingestion.Intake;
using AnomalyActors.Kafka;
using AnomalyActors.Mqtt;
using AnomalyActors.Models;
using AnomalyActors.Models.Clustering;
using AnomalyActors.Mqtt.Clustering;
using AnomalyActors.Node.Actors;
using AnomalyActors.Node.Hosting;
using AnomalyActors.Notifications;
using AnomalyActors.Web.Series;

namespace AnomalyActors.Host;

/// <summary>
/// A node with its sources and its results sink, composed from one <see cref="AnomalyActorsSettings"/>:
/// the actor node (durable intake, sensors), results to the console and files or to the site's Kafka
/// topics, then the Kafka consumer and MQTT: the embedded broker with its own ingestion, or a
/// subscriber to an external broker (into the node's intake, or bridged to Kafka). Stopping runs
/// the other way round: sources first (nothing unacknowledged is lost: the devices, the broker or
/// the consumer group send it again), then the node with its final snapshots, then the broker.
/// </summary>
public sealed class AnomalyHost : IAsyncDisposable
{
    private readonly KafkaOutputs? _kafkaOutputs;
    private Action<string> _report = _ => { };

    private AnomalyHost(AnomalyActorsSettings settings, AnomalyNode node, KafkaOutputs? kafkaOutputs, KafkaMetrics kafkaMetrics)
    {
        Settings = settings;
        Node = node;
        _kafkaOutputs = kafkaOutputs;
        KafkaMetrics = kafkaMetrics;
    }

    public AnomalyActorsSettings Settings { get; }
    public AnomalyNode Node { get; }
    public EmbeddedBroker? Broker { get; private set; }
    /// <summary>The subscriber's ingestion, with an external broker.</summary>
    public MqttIngestion? MqttIngestion { get; private set; }

    /// <summary>The embedded broker's own ingestion.</summary>
    public BrokerIngestion? BrokerIngestion { get; private set; }

    /// <summary>The site's one MQTT session in a cluster, with an external broker and <c>in-cluster = singleton</c>.</summary>
    public SiteSubscriber? SiteSubscriber { get; private set; }

    /// <summary>Counters of whichever MQTT ingestion runs.</summary>
    public IngestionCounters? MqttCounters => MqttIngestion?.Counters ?? BrokerIngestion?.Counters ?? _siteSubscriberCounters;

    // One set for every session this member holds over time, so its status stays cumulative.
    private IngestionCounters? _siteSubscriberCounters;

    /// <summary>The archive fed by this node's sensors and results sink (archive on, Kafka off), else null.</summary>
    public LocalArchive? LocalArchive { get; private init; }

    /// <summary>The archive's collector of the site's result topics (archive and Kafka on), else null.</summary>
    public KafkaArchiveCollector? KafkaArchive { get; private set; }

    /// <summary>The dashboard, its API and /metrics when <c>anomaly-actors.web.enabled</c> is on, else null.</summary>
    public NodeDashboard? Dashboard { get; private set; }

    /// <summary>Notifications of alert changes when <c>anomaly-actors.notifications</c> has a route, else null.</summary>
    public Notifier? Notifier { get; private set; }

    /// <summary>Keeps the node on the published global model; null when models are off.</summary>
    public ModelPuller? Models { get; private set; }

    /// <summary>The global model the sensors use; null when models are off.</summary>
    public CurrentModel? CurrentModel { get; private set; }

    /// <summary>The Kafka consumer when <c>anomaly-actors.kafka.enabled</c> is on, else null.</summary>
    public KafkaIngestion? Kafka { get; private set; }

    /// <summary>Counters of the Kafka paths (all zero without Kafka).</summary>
    public KafkaMetrics KafkaMetrics { get; }

    /// <summary>A ready intake client for sources in this process (replay, benchmarks).</summary>
    public IReadingIntake Intake => new ActorReadingIntake(Node.Intake, IntakeTimeout);

    private TimeSpan IntakeTimeout => Node.Settings.Intake.AppendTimeout + TimeSpan.FromSeconds(5);

    public static Task<AnomalyHost> StartAsync(Config? overrides = null, string? hoconDirectory = null, string systemName = "anomaly-actors", Action<string>? report = null) =>
        StartAsync(AnomalyActorsSettings.Load(overrides, hoconDirectory), systemName, report);

    /// <param name="report">Where events an operator watches for go (which member holds the site's MQTT session); the log by default.</param>
    public static async Task<AnomalyHost> StartAsync(AnomalyActorsSettings settings, string systemName = "anomaly-actors", Action<string>? report = null)
    {
        if (settings.Mqtt.Enabled)
        {
            settings = settings with { Mqtt = settings.Mqtt.WithServiceAccount(settings.Node.DataDirectory) };
        }

        var kafka = settings.Kafka;
        var kafkaMetrics = new KafkaMetrics();
        var kafkaOutputs = kafka.Used ? new KafkaOutputs(kafka, "anomaly-actors-" + systemName, settings.Node.Site) : null;
        Func<ActorSystem, ResultsSink>? results = kafka.Enabled
            ? system => new ResultsSink(system.ActorOf(KafkaResultsActor.Props(kafkaOutputs!, kafkaMetrics), "results"), kafka.PublishEnriched)
            : null;
        LocalArchive? localArchive = null;
        // Created before the sensors, which record watched streams' readings into it.
        var series = settings.Web.Enabled ? new SeriesStore(settings.Web.SeriesPoints, settings.Web.WatchedSensors) : null;
        // In a cluster the sensors also send watched streams' readings to other members' dashboards.
        var relay = series is not null && settings.Node.Cluster.Clustered ? new SeriesRelay(series) : null;
        Func<ActorSystem, Task<IResultsArchive>>? archive = settings.Archive.Enabled && !kafka.Enabled
            ? async system => localArchive = await StartLocalArchiveAsync(settings, system).ConfigureAwait(false)
            : null;
        var models = settings.Models.Enabled ? new CurrentModel() : null;
        AnomalyNode node;
        try
        {
            node = await AnomalyNode.StartAsync(settings.Node, settings.Config, systemName, results, archive, (IScoredReadingsTap?)relay ?? series, models).ConfigureAwait(false);
        }
        catch (RemotingBindException e)
        {
            kafkaOutputs?.Dispose();
            const string key = ClusterPortKey;
            throw new ConfigurationException(
                $"Configuration key '{key}' is {e.Port}: {e.Message}. Choose another port (ANOMALY_ACTORS_PORT), or 0 for any free one ({settings.Source.Of(key)}).", e);
        }
        catch
        {
            kafkaOutputs?.Dispose();
            if (localArchive is not null)
            {
                await localArchive.DisposeAsync().ConfigureAwait(false);
            }

            throw;
        }

        // The producer outlives the actors that use it.
        _ = node.System.WhenTerminated.ContinueWith(_ => kafkaOutputs?.Dispose(), TaskScheduler.Default);
        var host = new AnomalyHost(settings, node, kafkaOutputs, kafkaMetrics)
        {
            _report = report ?? (message => node.System.Log.Info("{0}", message)),
            LocalArchive = localArchive,
        };
        try
        {
            if (models is not null)
            {
                // Before the sources, once the data directory is this node's: the last good model
                // it holds is in use before the first reading. Switches and refusals go where the
                // node reports (the console for run).
                // In a cluster members pass models on to those that cannot reach the shared storage.
                var replication = settings.Node.Cluster.Clustered ? ModelReplication.Start(node.System) : null;
                host.Models = ModelPuller.Start(settings.Models.Root, settings.Models.LocalDirectory, settings.Models.PollInterval, models, message => host._report(message), replication is null ? null : replication.Announce);
                replication?.Attach(host.Models);
                host.CurrentModel = models;
            }

            if (settings.Web.Enabled)
            {
                // Before the sources: alerts of the first readings already reach the board.
                host.Dashboard = await NodeDashboard.StartAsync(host, series!, relay).ConfigureAwait(false);
            }

            if (settings.Notifications.Enabled)
            {
                host.Notifier = Notifier.Start(node.System, settings.Notifications, host.Dashboard?.Address, settings.Node.Cluster.Clustered);
                node.System.Log.Info("Notifying alert changes over {0} route(s) to {1}", settings.Notifications.Routes.Count, string.Join(", ", settings.Notifications.Channels.Select(c => c.Name)));
            }

            if (kafka.Enabled)
            {
                host.StartKafka();
                if (settings.Archive.Enabled)
                {
                    host.StartKafkaArchive();
                }
            }

            if (settings.Mqtt.Enabled)
            {
                try
                {
                    await host.StartMqttAsync().ConfigureAwait(false);
                }
                catch (ListenerBindException e)
                {
                    var key = e.Port == settings.Mqtt.Broker.TlsPort && settings.Mqtt.Broker.TlsEnabled ? "broker.tls.port" : "broker.port";
                    var fullKey = $"{MqttSettings.Path}.{key}";
                    throw new ConfigurationException(
                        $"Configuration key '{fullKey}' is {e.Port}: {e.Message}. Choose another port (--mqtt-port or ANOMALY_ACTORS_MQTT_PORT) ({settings.Source.Of(fullKey)}).", e);
                }
            }

            return host;
        }
        catch
        {
            await host.StopAsync().ConfigureAwait(false);
            throw;
        }
    }

    private static async Task<LocalArchive> StartLocalArchiveAsync(AnomalyActorsSettings settings, ActorSystem system)
    {
        var archive = settings.Archive;
        var source = archive.Source ?? LocalArchive.DefaultSource(archive.Site, settings.Node.DataDirectory);
        var started = await LocalArchive.StartAsync(archive.Root, archive.LogDirectory, source, archive.Options, archive.IdlePoll,
            e => system.Log.Error(e, "The archive stopped collecting into {0}; the result logs in {1} keep growing until a restart", archive.Root, archive.LogDirectory)).ConfigureAwait(false);
        system.Log.Info("Archiving enriched readings and alerts into {0} as source {1}", archive.Root, source);
        return started;
    }

    private void StartKafkaArchive()
    {
        var archive = Settings.Archive;
        var kafka = Settings.Kafka;
        var log = Node.System.Log;
        KafkaArchive = KafkaArchiveCollector.Start(
            archive.Root,
            archive.Site,
            archive.Options,
            new KafkaArchiveSource(kafka.BootstrapServers, kafka.GroupId + "-archive", kafka.EnrichedTopic, kafka.AlertsTopic, kafka.SessionTimeout, kafka.ConsumerProperties),
            message => log.Warning("{0}", message));
        log.Info("Archiving Kafka topics {0} and {1} into {2}", kafka.AlertsTopic, kafka.EnrichedTopic, archive.Root);
    }

    private void StartKafka()
    {
        var intake = KafkaIngestion.Start(Node.System, Settings.Kafka, Settings.Ingestion, Node.Sensors, _kafkaOutputs!, KafkaMetrics);
        Kafka = intake;
        // Stop consuming before sharding hands sensors off.
        CoordinatedShutdown.Get(Node.System).AddTask(CoordinatedShutdown.PhaseServiceUnbind, "stop-kafka-intake", async () =>
        {
            await intake.StopAsync().ConfigureAwait(false);
            return Akka.Done.Instance;
        });
    }

    private async Task StartMqttAsync()
    {
        var mqtt = Settings.Mqtt;
        var log = Node.System.Log;
        IReadingIntake intake = Intake;
        if (Settings.Kafka.BridgeMqtt)
        {
            intake = new KafkaBridgeIntake(_kafkaOutputs!, IntakeTimeout);
            log.Info("MQTT readings are bridged to Kafka topic {0} at {1}", Settings.Kafka.ReadingsTopic, Settings.Kafka.BootstrapServers);
        }

        if (mqtt.Broker.Embedded)
        {
            // Ingestion first: the broker acknowledges nothing it could not hand on.
            BrokerIngestion = new BrokerIngestion(
                Node.System, Settings.Ingestion, intake, Node.DeadLetters, mqtt.Subscriber.TopicFilter, mqtt.Subscriber.Buffer, mqtt.Subscriber.DrainTimeout,
                message => log.Warning("{0}", message));
            BrokerIngestion.Start();
            Broker = await EmbeddedBroker.StartAsync(mqtt.Broker, message => log.Warning("{0}", message), BrokerIngestion).ConfigureAwait(false);
            log.Info("Embedded MQTT broker listening on {0}:{1}{2}, ingesting topic filter '{3}'", mqtt.Broker.Host, mqtt.Broker.Port,
                mqtt.Broker.TlsEnabled ? $" and TLS on {mqtt.Broker.TlsPort}" : string.Empty, mqtt.Subscriber.TopicFilter);
            if (Listeners.ClearTextWarning("The embedded MQTT broker", mqtt.Broker.Host, mqtt.Broker.Port,
                    mqtt.Broker.TlsEnabled
                        ? $"Devices should use the TLS listener on port {mqtt.Broker.TlsPort}."
                        : "Configure anomaly-actors.mqtt.broker.tls, or keep broker.host on loopback behind a TLS-terminating proxy.") is { } warning)
            {
                log.Warning(warning);
            }

            return;
        }

        var subscriber = mqtt.Subscriber;
        MqttIngestion NewIngestion(SubscriberSettings of, IngestionCounters? counters = null) =>
            new(Node.System, of, Settings.Ingestion, intake, Node.DeadLetters, message => log.Warning("{0}", message), counters);

        if (Settings.Node.Cluster.Clustered && subscriber.InCluster == ClusterSubscription.Singleton)
        {
            var counters = _siteSubscriberCounters = new IngestionCounters();
            SiteSubscriber = Mqtt.Clustering.SiteSubscriber.Start(
                Node.System, () => NewIngestion(subscriber, counters), ConnectTimeout, subscriber.ReconnectBackoff, subscriber.DrainTimeout, _report);
            // This member stops taking messages before its sensors and intake partitions hand off.
            CoordinatedShutdown.Get(Node.System).AddTask(CoordinatedShutdown.PhaseServiceUnbind, "stop-mqtt-site-subscriber", async () =>
            {
                await SiteSubscriber.StopHereAsync().ConfigureAwait(false);
                return Akka.Done.Instance;
            });
            log.Info("MQTT topic filter '{0}' from {1}:{2} is ingested by one member of the cluster at a time, as client '{3}'",
                subscriber.TopicFilter, subscriber.Host, subscriber.Port, subscriber.ClientId);
            return;
        }

        if (Settings.Node.Cluster.Clustered)
        {
            // A fixed port: the settings refuse shared subscriptions on any free one.
            var self = Akka.Cluster.Cluster.Get(Node.System).SelfAddress;
            subscriber = subscriber.SharedBy(self.Host!, self.Port!.Value);
        }

        MqttIngestion = NewIngestion(subscriber);
        await MqttIngestion.StartAsync(ConnectTimeout).ConfigureAwait(false);
        log.Info("Ingesting MQTT topic filter '{0}' from {1}:{2} at QoS {3}{4}",
            subscriber.TopicFilter, subscriber.Host, subscriber.Port, (int)subscriber.Qos, Settings.Node.Cluster.Clustered ? $" as client '{subscriber.ClientId}'" : string.Empty);
    }

    private const string ClusterPortKey = "akka.remote.dot-netty.tcp.port";

    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(30);

    /// <summary>Graceful stop: sources, then the node (final snapshots), then the broker.</summary>
    public async Task StopAsync()
    {
        if (SiteSubscriber is not null && !Node.System.WhenTerminated.IsCompleted)
        {
            await SiteSubscriber.StopHereAsync().ConfigureAwait(false);
        }

        if (MqttIngestion is not null)
        {
            await MqttIngestion.DisposeAsync().ConfigureAwait(false);
        }

        if (BrokerIngestion is not null)
        {
            // The broker stays up meanwhile, so what becomes durable is still acknowledged.
            await BrokerIngestion.DisposeAsync().ConfigureAwait(false);
        }

        await Node.StopAsync().ConfigureAwait(false);
        await StopArchiveAsync().ConfigureAwait(false);
        await StopDashboardAndNotificationsAsync().ConfigureAwait(false);
        if (Broker is not null)
        {
            await Broker.DisposeAsync().ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!Node.System.WhenTerminated.IsCompleted)
        {
            await StopAsync().ConfigureAwait(false);
        }

        await StopArchiveAsync().ConfigureAwait(false);
        await StopDashboardAndNotificationsAsync().ConfigureAwait(false);
        if (Models is not null)
        {
            await Models.DisposeAsync().ConfigureAwait(false);
        }
    }

    private async Task StopDashboardAndNotificationsAsync()
    {
        if (Interlocked.Exchange(ref _notifierStopped, 1) == 0 && Notifier is not null)
        {
            await Notifier.DisposeAsync().ConfigureAwait(false);
        }

        if (Interlocked.Exchange(ref _dashboardStopped, 1) == 0 && Dashboard is not null)
        {
            await Dashboard.DisposeAsync().ConfigureAwait(false);
        }
    }

    private int _dashboardStopped;
    private int _notifierStopped;

    /// <summary>Once the sink has stopped: the archive collects the rest of its logs and commits it.</summary>
    private async Task StopArchiveAsync()
    {
        if (Interlocked.Exchange(ref _archiveStopped, 1) != 0)
        {
            return;
        }

        if (LocalArchive is not null)
        {
            await LocalArchive.DisposeAsync().ConfigureAwait(false);
        }

        if (KafkaArchive is not null)
        {
            await KafkaArchive.DisposeAsync().ConfigureAwait(false);
        }
    }

    private int _archiveStopped;
}
