using Akka.Actor;
using Akka.Actor.Setup;
using Akka.Cluster;
using Akka.Cluster.Sharding;
using Akka.Configuration;
using Akka.Event;
using AnomalyActors.Core.Commands;
using AnomalyActors.Node.Actors;
using AnomalyActors.Node.Kafka;
using AnomalyActors.Node.Persistence;
using AnomalyActors.Node.Settings;
using AnomalyActors.Node.Sharding;

namespace AnomalyActors.Node.Hosting;

/// <summary>
/// A running AnomalyActors node: an ActorSystem in a (by default single-node) cluster with the
/// intake and sensor shard regions, the intake router and the alert actor.
/// </summary>
public sealed class AnomalyNode : IAsyncDisposable
{
    private const int MaxShards = 100;

    private AnomalyNode(ActorSystem system, NodeSettings settings, NodeMetrics metrics, IActorRef intake, IActorRef sensors, IActorRef partitions)
    {
        System = system;
        Settings = settings;
        Metrics = metrics;
        Intake = intake;
        Sensors = sensors;
        Partitions = partitions;
    }

    public ActorSystem System { get; }
    public NodeSettings Settings { get; }
    public NodeMetrics Metrics { get; }

    /// <summary>Send <see cref="IngestReadings"/> here; the reply says when the batch is durable.</summary>
    public IActorRef Intake { get; }

    /// <summary>The SensorActor shard region (messages implementing IWithSensorId).</summary>
    public IActorRef Sensors { get; }

    /// <summary>The intake partition shard region (messages implementing IWithPartitionId).</summary>
    public IActorRef Partitions { get; }

    /// <summary>Counters of the Kafka paths (all zero unless <c>anomaly-actors.kafka.enabled</c>).</summary>
    public KafkaMetrics KafkaMetrics { get; private init; } = new();

    /// <summary>The Kafka intake when the node runs in Kafka mode, else null.</summary>
    public KafkaIntake? Kafka { get; private set; }

    public static Task<AnomalyNode> StartAsync(Config? overrides = null, string? hoconDirectory = null, string systemName = "anomaly-actors")
    {
        var (config, source) = NodeConfig.Load(overrides, hoconDirectory);
        return StartWithConfigAsync(config, source, systemName);
    }

    public static async Task<AnomalyNode> StartWithConfigAsync(Config config, string source, string systemName)
    {
        var settings = NodeSettings.FromConfig(config, source);
        Directory.CreateDirectory(settings.DataDirectory);
        var durable = settings.Persistence.Provider != PersistenceProvider.None;
        var derived = PersistenceConfig.For(settings.Persistence).WithFallback(ConfigurationFactory.ParseString(
            $"akka.cluster.sharding.passivate-idle-entity-after = {(long)settings.Sensor.PassivateIdleAfter.TotalMilliseconds}ms"));
        var bootstrap = BootstrapSetup.Create().WithConfig(derived.WithFallback(config));
        var system = PersistenceConfig.SetupFor(settings.Persistence) is { } persistenceSetup
            ? ActorSystem.Create(systemName, bootstrap.And(persistenceSetup))
            : ActorSystem.Create(systemName, bootstrap);
        try
        {
            await JoinClusterAsync(system);

            var metrics = new NodeMetrics();
            var alerts = system.ActorOf(AlertActor.Props(settings.Alerts), "alerts");
            var kafkaMetrics = new KafkaMetrics();
            var kafka = KafkaSettings.FromConfig(config, source) is { Enabled: true } kafkaSettings
                ? KafkaIntake.Prepare(system, kafkaSettings, KafkaIngestionSettings(config, settings, source), kafkaMetrics)
                : null;
            var sharding = ClusterSharding.Get(system);
            var extractor = new AnomalyMessageExtractor(MaxShards);
            var sensorSharding = ClusterShardingSettings.Create(system);

            // Partitions and sensors address each other; entities are only created once both
            // regions exist, so the factory may look the intake region up lazily.
            IActorRef? partitions = null;
            var sensors = await sharding.StartAsync(
                "sensor",
                sensorId => SensorActor.Props(
                    sensorId,
                    settings.Detection.CreateFor(sensorId),
                    settings.Sensor,
                    durable,
                    kafka?.Redelivery ?? partitions!,
                    kafka?.Results ?? alerts,
                    metrics,
                    kafka is { Settings.PublishEnriched: true } ? kafka.Results : null,
                    checkpointToSender: kafka is not null,
                    journalEpisodes: kafka is null || kafka.Settings.JournalEpisodes),
                sensorSharding,
                extractor,
                ShardAllocationStrategy.LeastShardAllocationStrategy(absoluteLimit: 0, relativeLimit: 0.1),
                PassivateSensor.Instance);

            // Partitions hold the intake timers and must stay up while the node runs.
            var intakeSharding = ClusterShardingSettings.Create(system).WithPassivateIdleAfter(TimeSpan.Zero);
            partitions = await sharding.StartAsync(
                "intake",
                id => IntakePartitionActor.Props(int.Parse(id, global::System.Globalization.CultureInfo.InvariantCulture), settings.Intake, durable, sensors, metrics),
                intakeSharding,
                extractor,
                ShardAllocationStrategy.LeastShardAllocationStrategy(absoluteLimit: 0, relativeLimit: 0.1),
                PoisonPill.Instance);

            HandOffSensorsBeforeIntake(system, sensors);
            var intake = system.ActorOf(IntakeRouter.Props(partitions, settings.Intake), "intake");
            var node = new AnomalyNode(system, settings, metrics, intake, sensors, partitions) { KafkaMetrics = kafkaMetrics };
            await node.WakePartitionsAsync();
            if (kafka is not null)
            {
                node.StartKafka(kafka);
            }

            return node;
        }
        catch
        {
            await system.Terminate();
            throw;
        }
    }

    /// <summary>
    /// Starts every partition and waits for its recovery, so re-delivery of the retained log to the
    /// sensors has begun before new readings are accepted. A partition whose recovery fails (say the
    /// database refused a connection) stops; sharding recreates it on the next message, so asking
    /// again is the retry.
    /// </summary>
    private async Task WakePartitionsAsync()
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(5);
        for (var p = 0; p < Settings.Intake.Partitions; p++)
        {
            while (true)
            {
                try
                {
                    await Partitions.Ask<Core.Queries.PartitionStatus>(new Core.Queries.GetPartitionStatus(p), TimeSpan.FromSeconds(10));
                    break;
                }
                catch (AskTimeoutException) when (DateTime.UtcNow < deadline)
                {
                    System.Log.Warning("Intake partition {0} has not recovered yet; asking again", p);
                }
            }
        }
    }

    private static Ingestion.IngestionSettings KafkaIngestionSettings(Config config, NodeSettings settings, string source) =>
        Ingestion.IngestionSettings.FromConfig(
            config.GetConfig(Ingestion.IngestionSettings.Path)
                ?? throw new ConfigurationException($"Missing configuration section '{Ingestion.IngestionSettings.Path}' ({source})."),
            settings.DataDirectory,
            source);

    private void StartKafka(KafkaIntake.Parts kafka)
    {
        var intake = KafkaIntake.Start(System, kafka, Sensors);
        Kafka = intake;
        // Stop consuming before sharding hands sensors off; the producer outlives the actors.
        CoordinatedShutdown.Get(System).AddTask(CoordinatedShutdown.PhaseServiceUnbind, "stop-kafka-intake", async () =>
        {
            await intake.StopAsync();
            return Akka.Done.Instance;
        });
        System.WhenTerminated.ContinueWith(_ => kafka.Outputs.Dispose(), TaskScheduler.Default);
    }

    /// <summary>
    /// Sensors report their final snapshots to the intake partitions while they hand off. Sharding
    /// stops both regions in the same phase, so those reports met an intake region that was handing
    /// off too: they waited for shard homes from a coordinator that was going away, and the region's
    /// stop ran into the phase timeout (Ctrl+C took 7-10 s). The sensors' region goes first, one phase
    /// earlier, while the intake still answers.
    /// </summary>
    private static void HandOffSensorsBeforeIntake(ActorSystem system, IActorRef sensors)
    {
        var shutdown = CoordinatedShutdown.Get(system);
        var timeout = shutdown.Timeout(CoordinatedShutdown.PhaseBeforeClusterShutdown);
        shutdown.AddTask(CoordinatedShutdown.PhaseBeforeClusterShutdown, "hand-off-sensors", async () =>
        {
            try
            {
                await sensors.GracefulStop(timeout, GracefulShutdown.Instance).ConfigureAwait(false);
            }
            catch (Exception e) when (e is TaskCanceledException or AskTimeoutException)
            {
                // Took longer than the phase: sharding's own region stop takes over in the next phase.
            }

            return Akka.Done.Instance;
        });
    }

    private static async Task JoinClusterAsync(ActorSystem system)
    {
        var cluster = Cluster.Get(system);
        var up = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        cluster.RegisterOnMemberUp(() => up.TrySetResult());
        var seeds = system.Settings.Config.GetStringList("akka.cluster.seed-nodes");
        if (seeds.Count == 0)
        {
            await cluster.JoinAsync(cluster.SelfAddress);
        }

        await up.Task.WaitAsync(TimeSpan.FromSeconds(60));
    }

    /// <summary>Sends a batch and waits until it is durable (or rejected).</summary>
    public Task<object> IngestAsync(IngestReadings batch, TimeSpan? timeout = null) =>
        Intake.Ask<object>(batch, timeout ?? Settings.Intake.AppendTimeout + TimeSpan.FromSeconds(5));

    /// <summary>Graceful stop: sharding hands off, sensors take final snapshots, the cluster is left.</summary>
    public Task StopAsync() => CoordinatedShutdown.Get(System).Run(CoordinatedShutdown.ClusterLeavingReason.Instance);

    public async ValueTask DisposeAsync()
    {
        if (!System.WhenTerminated.IsCompleted)
        {
            await StopAsync();
        }
    }
}
