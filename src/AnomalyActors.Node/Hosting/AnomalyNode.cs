using Akka.Actor;
using Akka.Actor.Setup;
using Akka.Cluster;
using Akka.Cluster.Sharding;
using Akka.Configuration;
using Akka.Event;
using AnomalyActors.Core.Commands;
using AnomalyActors.Core.Configuration;
using AnomalyActors.Core.Results;
using AnomalyActors.Node.Actors;
using AnomalyActors.Node.Outputs;
using AnomalyActors.Node.Persistence;
using AnomalyActors.Node.Clustering;
using AnomalyActors.Node.Settings;
using AnomalyActors.Node.Sharding;

namespace AnomalyActors.Node.Hosting;

/// <summary>
/// A running AnomalyActors node: an ActorSystem in a (by default single-node) cluster with the
/// intake and sensor shard regions, the intake router and the results sink the sensors report to.
/// </summary>
public sealed class AnomalyNode : IAsyncDisposable
{
    private const int MaxShards = 100;

    private DataDirectoryLock? _directoryLock;

    private AnomalyNode(ActorSystem system, NodeSettings settings, NodeMetrics metrics, IActorRef intake, IActorRef sensors, IActorRef partitions, DeadLetterFile? deadLetters)
    {
        System = system;
        Settings = settings;
        Metrics = metrics;
        Intake = intake;
        Sensors = sensors;
        Partitions = partitions;
        DeadLetters = deadLetters;
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

    /// <summary>The node's dead-letter file, for its sources too; null when disabled.</summary>
    public DeadLetterFile? DeadLetters { get; }

    /// <summary>A node on the configuration files (hocon/) under <paramref name="overrides"/>, results to the console and files.</summary>
    /// <param name="models">The global model the sensors are to use; null: they take none.</param>
    public static Task<AnomalyNode> StartAsync(Config? overrides = null, string? hoconDirectory = null, string systemName = "anomaly-actors", AnomalyActors.Core.Models.CurrentModel? models = null)
    {
        var (config, source) = NodeConfig.Load(overrides, hoconDirectory);
        return StartAsync(NodeSettings.FromConfig(config, source), config, systemName, models: models);
    }

    /// <summary>
    /// Starts a node on settings parsed already (everything is validated before the ActorSystem
    /// exists). <paramref name="results"/> creates the sink the sensors send their alerts, enriched
    /// readings and refused readings to; by default the console, alerts.jsonl and the dead-letter
    /// file, and what <paramref name="archive"/> opens (once the data directory is this node's) to
    /// record results for the archive. <paramref name="tap"/> follows watched streams' scored
    /// readings (the dashboard). <paramref name="models"/> holds the global model the sensors are to
    /// use (null: they take none).
    /// </summary>
    public static async Task<AnomalyNode> StartAsync(
        NodeSettings settings, Config config, string systemName, Func<ActorSystem, ResultsSink>? results = null, Func<ActorSystem, Task<IResultsArchive>>? archive = null,
        IScoredReadingsTap? tap = null, AnomalyActors.Core.Models.CurrentModel? models = null)
    {
        if (settings.Cluster.Seeds.FirstOrDefault(s => s.System != systemName) is { } foreign)
        {
            throw new ConfigurationException(
                $"Configuration key '{AnomalyActors.Node.Settings.ClusterSettings.SeedsKey}' has '{foreign}', a node of the system '{foreign.System}'; this node's system is '{systemName}', so it could never join ({settings.Cluster.SeedsOrigin}).");
        }

        var directoryLock = DataDirectoryLock.Acquire(settings.DataDirectory);
        var durable = settings.Persistence.Provider != PersistenceProvider.None;
        ActorSystem system;
        try
        {
            var derived = PersistenceConfig.For(settings.Persistence).WithFallback(ConfigurationFactory.ParseString(
                $"akka.cluster.sharding.passivate-idle-entity-after = {(long)settings.Sensor.PassivateIdleAfter.TotalMilliseconds}ms"));
            // Sharding's and distributed data's serializers from the start: a member that joins is
            // sent replicator messages before this node's sharding has started, and without them
            // it fails to read those (and logs a serialization error) until then.
            var bootstrap = BootstrapSetup.Create().WithConfig(derived.WithFallback(config)
                .WithFallback(Akka.Cluster.Sharding.ClusterSharding.DefaultConfig())
                .WithFallback(Akka.DistributedData.DistributedData.DefaultConfig()));
            system = PersistenceConfig.SetupFor(settings.Persistence) is { } persistenceSetup
                ? ActorSystem.Create(systemName, bootstrap.And(persistenceSetup))
                : ActorSystem.Create(systemName, bootstrap);
        }
        catch (Exception e) when (RemotingBindException.Find(e, config) is { } bind)
        {
            directoryLock.Dispose();
            throw bind;
        }
        catch
        {
            directoryLock.Dispose();
            throw;
        }

        _ = system.WhenTerminated.ContinueWith(_ => directoryLock.Dispose(), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        var deadLetters = settings.DeadLetters.FilePath is { } file ? new DeadLetterFile(file, settings.DeadLetters.MaxPayloadChars) : null;
        var metrics = new NodeMetrics();
        try
        {
            WarnIfRemotingLeavesTheMachine(system);
            await JoinClusterAsync(system, settings.Cluster);

            var recorder = results is null && archive is not null ? await archive(system).ConfigureAwait(false) : null;
            var sink = results?.Invoke(system)
                ?? new ResultsSink(system.ActorOf(FileResultsActor.Props(settings.Alerts, settings.Site, deadLetters, metrics, recorder), "results"), TakesEnriched: false, recorder);
            var wiring = new SensorWiring(settings.Sensor, durable, sink, metrics, tap, models);
            var sharding = ClusterSharding.Get(system);
            var extractor = new AnomalyMessageExtractor(MaxShards);
            var sensors = await sharding.StartAsync(
                "sensor",
                sensorId => SensorActor.Props(sensorId, settings.Detection.CreateFor(sensorId), wiring),
                ClusterShardingSettings.Create(system),
                extractor,
                ShardAllocationStrategy.LeastShardAllocationStrategy(absoluteLimit: 0, relativeLimit: 0.1),
                PassivateSensor.Instance);

            // Partitions hold the intake timers and must stay up while the node runs.
            var partitions = await sharding.StartAsync(
                "intake",
                id => IntakePartitionActor.Props(int.Parse(id, global::System.Globalization.CultureInfo.InvariantCulture), settings.Intake, durable, sensors, metrics),
                ClusterShardingSettings.Create(system).WithPassivateIdleAfter(TimeSpan.Zero),
                extractor,
                ShardAllocationStrategy.LeastShardAllocationStrategy(absoluteLimit: 0, relativeLimit: 0.1),
                IntakePartitionActor.HandOffPartition.Instance);

            HandOffSensorsBeforeIntake(system, sensors);
            var intake = system.ActorOf(IntakeRouter.Props(partitions, settings.Intake), "intake");
            var node = new AnomalyNode(system, settings, metrics, intake, sensors, partitions, deadLetters) { _directoryLock = directoryLock };
            system.ActorOf(SiteStatusActor.Props(node.SiteStatusAsync), SiteStatusActor.Name);
            await node.WakePartitionsAsync();
            _ = system.WhenTerminated.ContinueWith(_ => deadLetters?.Dispose(), TaskScheduler.Default);
            return node;
        }
        catch
        {
            await system.Terminate();
            deadLetters?.Dispose();
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

    private static void WarnIfRemotingLeavesTheMachine(ActorSystem system)
    {
        var remote = system.Settings.Config.GetConfig("akka.remote.dot-netty.tcp");
        var host = remote.GetString("hostname", "127.0.0.1");
        var tls = remote.GetBoolean("enable-ssl", false);
        if (!tls && Listeners.ClearTextWarning("The node's cluster endpoint", host, remote.GetInt("port", 0),
                "Configure akka.remote.dot-netty.tcp.enable-ssl, or keep ANOMALY_ACTORS_HOST on loopback.") is { } warning)
        {
            system.Log.Warning(warning);
        }
    }

    /// <summary>Joins the configured seeds (or forms a cluster of its own without any) and waits until this member is up.</summary>
    public static async Task JoinClusterAsync(ActorSystem system, AnomalyActors.Node.Settings.ClusterSettings settings)
    {
        var cluster = Cluster.Get(system);
        var up = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        cluster.RegisterOnMemberUp(() => up.TrySetResult());
        if (!settings.Clustered)
        {
            await cluster.JoinAsync(cluster.SelfAddress);
        }

        try
        {
            await up.Task.WaitAsync(TimeSpan.FromSeconds(60));
        }
        catch (TimeoutException e) when (settings.Clustered)
        {
            throw new InvalidOperationException(
                $"This node ({cluster.SelfAddress}) did not join the cluster within 60 s: none of the seed nodes {string.Join(", ", settings.Seeds)} " +
                $"({settings.SeedsOrigin}) answered, or the first seed is not running. Start the first seed node first.", e);
        }
    }

    /// <summary>The cluster's members and the sensors and intake partitions on each.</summary>
    public Task<ClusterView> ClusterViewAsync() => ClusterView.QueryAsync(System, Sensors, Partitions, TimeSpan.FromSeconds(5));

    /// <summary>The members with what sharding placed on each, and the intake's lag, as this member sees them.</summary>
    /// <remarks>The intake figures are -1 when a partition did not answer in time (it is moving to another member).</remarks>
    public async Task<Core.Queries.SiteStatus> SiteStatusAsync()
    {
        var view = ClusterViewAsync();
        var totals = TotalsAsync();
        try
        {
            await totals.ConfigureAwait(false);
        }
        catch (AskTimeoutException)
        {
        }

        var members = (await view.ConfigureAwait(false)).Members;
        var intake = totals.IsCompletedSuccessfully ? totals.Result : null;
        return new Core.Queries.SiteStatus(
            Akka.Cluster.Cluster.Get(System).SelfAddress.ToString(), members, intake?.SensorsBehind ?? -1, intake?.ReadingsRetained ?? -1, intake?.ReadingsStored ?? -1);
    }

    /// <summary>Reports every change of the cluster's membership (see <see cref="MembershipReporter"/>).</summary>
    public void ReportMembership(Action<string> report) => System.ActorOf(MembershipReporter.Props(report), "membership-reporter");

    /// <summary>
    /// Totals since the data directory was created, which survive restarts: readings made durable in
    /// the intake (each partition's next offset), alert lines and dead letters in their files.
    /// </summary>
    public async Task<NodeTotals> TotalsAsync()
    {
        var statuses = await Task.WhenAll(Enumerable.Range(0, Settings.Intake.Partitions)
            .Select(p => Partitions.Ask<Core.Queries.PartitionStatus>(new Core.Queries.GetPartitionStatus(p), TimeSpan.FromSeconds(10)))).ConfigureAwait(false);
        return new NodeTotals(statuses.Sum(s => s.NextOffset), Metrics.AlertLines, DeadLetters?.Total ?? 0)
        {
            SensorsBehind = statuses.Sum(s => s.SensorsBehind),
            ReadingsRetained = statuses.Sum(s => s.NextOffset - s.OldestRetainedOffset),
        };
    }

    /// <summary>Sends a batch and waits until it is durable (or rejected).</summary>
    public Task<object> IngestAsync(IngestReadings batch, TimeSpan? timeout = null) =>
        Intake.Ask<object>(batch, timeout ?? Settings.Intake.AppendTimeout + TimeSpan.FromSeconds(5));

    /// <summary>Graceful stop: sharding hands off, sensors take final snapshots, the cluster is left.</summary>
    public async Task StopAsync()
    {
        await CoordinatedShutdown.Get(System).Run(CoordinatedShutdown.ClusterLeavingReason.Instance).ConfigureAwait(false);
        await System.WhenTerminated.ConfigureAwait(false);
        // Free the directory before returning, so a node started next on it finds it free.
        _directoryLock?.Dispose();
    }

    public async ValueTask DisposeAsync()
    {
        if (!System.WhenTerminated.IsCompleted)
        {
            await StopAsync();
        }
    }
}

/// <param name="ReadingsStored">Readings made durable in the node's intake since the data directory was created.</param>
/// <param name="AlertLines">Lines in the alerts file (a transition repeated after a crash counts again).</param>
/// <param name="DeadLetters">Records in the dead-letter file.</param>
public sealed record NodeTotals(long ReadingsStored, long AlertLines, long DeadLetters)
{
    /// <summary>Sensors whose readings an intake partition still holds for them: the intake's lag, in sensors.</summary>
    public int SensorsBehind { get; init; }

    /// <summary>Readings the intake keeps because some sensor has not snapshotted past them.</summary>
    public long ReadingsRetained { get; init; }
}
