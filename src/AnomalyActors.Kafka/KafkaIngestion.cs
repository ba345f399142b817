using System.Globalization;
using Akka;
using Akka.Actor;
using Akka.Event;
using Akka.Streams;
using Akka.Streams.Dsl;
using AnomalyActors.Ingestion;
using AnomalyActors.Ingestion.DeadLetters;
using AnomalyActors.Streams.Kafka;
using Confluent.Kafka;

namespace AnomalyActors.Kafka;

/// <summary>
/// Kafka as a source of a node: consumes the readings topic in the site's group and feeds the
/// sensors, one <see cref="KafkaPartitionActor"/> per assigned partition (children of one supervisor).
/// Sensors report checkpoints and ask for re-deliveries to the partition actor that sent them
/// readings, so commits follow durability wherever the sensor lives in the cluster. If the consuming
/// stream fails, it starts again from the committed offsets after a pause.
/// </summary>
public sealed class KafkaIngestion : IAsyncDisposable
{
    private static readonly TimeSpan RestartBackoff = TimeSpan.FromSeconds(5);

    private readonly ActorSystem _system;
    private readonly KafkaSettings _settings;
    private readonly IngestionSettings _ingestion;
    private readonly IActorRef _sensors;
    private readonly KafkaDeadLetterSink _deadLetters;
    private readonly PartitionRereader _rereader;
    private readonly IActorRef _partitions;
    private readonly ILoggingAdapter _log;
    private CancellationTokenSource? _stopping;
    private IControl? _control;

    private KafkaIngestion(ActorSystem system, KafkaSettings settings, IngestionSettings ingestion, IActorRef sensors, KafkaOutputs outputs, KafkaMetrics metrics)
    {
        _system = system;
        _settings = settings;
        _ingestion = ingestion;
        _sensors = sensors;
        Metrics = metrics;
        _deadLetters = new KafkaDeadLetterSink(outputs, metrics);
        _rereader = new PartitionRereader(settings, ingestion, metrics);
        _partitions = system.ActorOf(Akka.Actor.Props.Create(() => new KafkaPartitionsActor()), "kafka-partitions");
        _log = Logging.GetLogger(system, typeof(KafkaIngestion));
        _ = system.WhenTerminated.ContinueWith(_ => _rereader.Dispose(), TaskScheduler.Default);
    }

    public KafkaMetrics Metrics { get; }

    /// <summary>Messages, readings and dead letters per reason of the readings topic.</summary>
    public IngestionCounters Counters { get; } = new();

    /// <summary>Completes when consuming ends (after <see cref="StopAsync"/>).</summary>
    public Task Completion { get; private set; } = Task.CompletedTask;

    /// <summary>Joins the group and starts feeding <paramref name="sensors"/>.</summary>
    public static KafkaIngestion Start(ActorSystem system, KafkaSettings settings, IngestionSettings ingestion, IActorRef sensors, KafkaOutputs outputs, KafkaMetrics metrics)
    {
        var intake = new KafkaIngestion(system, settings, ingestion, sensors, outputs, metrics);
        intake.Resume();
        return intake;
    }

    /// <summary>
    /// Joins the group and consumes again after <see cref="StopAsync"/> (sensors stay as they are;
    /// the group resumes at the committed offsets, so what they already applied is skipped).
    /// </summary>
    public void Resume()
    {
        if (_stopping is not null)
        {
            throw new InvalidOperationException("The Kafka intake is already consuming.");
        }

        _stopping = new CancellationTokenSource();
        Completion = ConsumeAsync(_stopping.Token);
    }

    private async Task ConsumeAsync(CancellationToken stopping)
    {
        while (true)
        {
            var (control, completion) = Run();
            _control = control;
            try
            {
                await completion.ConfigureAwait(false);
                return;
            }
            catch (Exception e) when (!stopping.IsCancellationRequested)
            {
                _log.Error(e, "Consuming {0} failed; starting again from the committed offsets in {1} s", _settings.ReadingsTopic, RestartBackoff.TotalSeconds);
                await control.Shutdown().ConfigureAwait(false);
            }
            catch (Exception) when (stopping.IsCancellationRequested)
            {
                return;
            }

            try
            {
                await Task.Delay(RestartBackoff, stopping).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private (IControl Control, Task Completion) Run()
    {
        var settings = _settings;
        var metrics = Metrics;
        var log = _log;
        var materializer = _system.Materializer(namePrefix: "kafka-intake");
        var committer = Source.ActorRef<ICommittable>(100_000, OverflowStrategy.DropHead)
            .Via(Committer.Flow(
                new CommitterSettings(1000, settings.CommitInterval),
                e => log.Warning("Offset commit failed (a later commit will cover it): {0}", e.Message)))
            .To(Sink.ForEach<int>(committed =>
            {
                if (committed > 0)
                {
                    metrics.CommitDone();
                }
            }))
            .Run(materializer);
        var context = new KafkaPartitionContext(settings, _ingestion, Counters, metrics, _deadLetters, _rereader, _sensors, committer);

        var consumerSettings = ConsumerSettings<string?, byte[]>.Create(new InterningUtf8Deserializer(), Deserializers.ByteArray)
            .WithBootstrapServers(settings.BootstrapServers)
            .WithGroupId(settings.GroupId)
            .WithClientId("anomaly-actors-" + _system.Name)
            .WithPartitionBufferSize(settings.PartitionBuffer)
            .WithProperty("session.timeout.ms", ((int)settings.SessionTimeout.TotalMilliseconds).ToString(CultureInfo.InvariantCulture))
            .WithProperty("heartbeat.interval.ms", Math.Max(100, (int)settings.SessionTimeout.TotalMilliseconds / 10).ToString(CultureInfo.InvariantCulture))
            .WithProperty("fetch.wait.max.ms", "10")
            // A member joining or leaving moves only the partitions that change owner. With the
            // default eager protocol every member gives up all its partitions on every rebalance and
            // reads them again from their committed offsets, which trail by up to a snapshot
            // interval: a member's death would make the whole site re-read that backlog while it
            // takes the dead member's sensors over. Every member of a group must use the same
            // protocol, so a site switches by a full stop, not a rolling restart.
            .WithProperty("partition.assignment.strategy", "cooperative-sticky");
        foreach (var (key, value) in settings.ConsumerProperties)
        {
            consumerSettings = consumerSettings.WithProperty(key, value);
        }

        var partitions = _partitions;
        var (control, completion) = KafkaConsumer.CommittablePartitionedSource(consumerSettings, Subscriptions.Topics(settings.ReadingsTopic))
            .SelectAsync(1, async assigned =>
            {
                var partition = assigned.Partition.Partition.Value;
                var actor = await partitions.Ask<IActorRef>(new OpenPartition(partition, context), TimeSpan.FromSeconds(30)).ConfigureAwait(false);
                log.Info("Consuming {0} partition {1}", settings.ReadingsTopic, partition);
                metrics.Assigned();
                // One batch at a time per partition, and the next is whatever arrived meanwhile (up to
                // max-batch): a quiet partition's message goes to the actor at once, a busy one's
                // batches grow to what the actor's previous batch took to process. No timer is
                // involved: Akka's scheduler ticks every 10 ms at best, and several small batches in
                // flight cost a round trip and a message per sensor each (benchmarks/README.md).
                return assigned.Messages
                    .Batch(settings.MaxBatch, m => new List<CommittableMessage<string?, byte[]>>(64) { m }, (list, m) =>
                    {
                        list.Add(m);
                        return list;
                    })
                    .SelectAsync(1, batch => actor.Ask<BatchDelivered>(new MessageBatch(batch), TimeSpan.FromMinutes(1)))
                    .WatchTermination((_, done) =>
                    {
                        done.ContinueWith(_ =>
                        {
                            metrics.Revoked();
                            actor.Tell(PartitionRevoked.Instance);
                        }, TaskScheduler.Default);
                        return NotUsed.Instance;
                    });
            })
            .MergeMany(4096, sub => sub.MapMaterializedValue(_ => NoControl.Instance))
            .ToMaterialized(Sink.Ignore<BatchDelivered>(), Keep.Both)
            .Run(materializer);
        return (control, completion);
    }

    /// <summary>Stops consuming and leaves the group; in-flight work is abandoned (it is re-read from the committed offset).</summary>
    public async Task StopAsync()
    {
        if (_stopping is not { } stopping)
        {
            return;
        }

        _stopping = null;
        await stopping.CancelAsync().ConfigureAwait(false);
        if (_control is { } control)
        {
            _control = null;
            await control.Shutdown().ConfigureAwait(false);
        }

        await Completion.ConfigureAwait(false);
        stopping.Dispose();
    }

    public async ValueTask DisposeAsync() => await StopAsync().ConfigureAwait(false);

    private sealed record OpenPartition(int Partition, KafkaPartitionContext Context);

    /// <summary>
    /// Parent of the partition actors. A partition actor that throws is stopped, not restarted: what
    /// it tracked (which readings each sensor has covered) decides the commit position and cannot be
    /// rebuilt, so its batches time out, the consuming stream fails and starts again from the
    /// committed offsets.
    /// </summary>
    private sealed class KafkaPartitionsActor : ReceiveActor
    {
        private int _generation;

        public KafkaPartitionsActor() =>
            Receive<OpenPartition>(open =>
                Sender.Tell(Context.ActorOf(KafkaPartitionActor.Props(open.Partition, open.Context), $"partition-{open.Partition}-{++_generation}")));

        protected override SupervisorStrategy SupervisorStrategy() => new OneForOneStrategy(_ => Directive.Stop);
    }

    private sealed class NoControl : IControl
    {
        public static readonly IControl Instance = new NoControl();

        public Task Stop() => Task.CompletedTask;

        public Task Shutdown() => Task.CompletedTask;

        public Task IsShutdown => Task.CompletedTask;
    }
}
