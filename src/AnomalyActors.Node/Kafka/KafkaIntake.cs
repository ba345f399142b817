using System.Globalization;
using Akka;
using Akka.Actor;
using Akka.Event;
using Akka.Streams;
using Akka.Streams.Dsl;
using AnomalyActors.Ingestion;
using AnomalyActors.Ingestion.DeadLetters;
using AnomalyActors.Kafka;
using Confluent.Kafka;

namespace AnomalyActors.Node.Kafka;

/// <summary>
/// The Kafka mode of a node: consumes the readings topic in the site's group and feeds the
/// sensors, one <see cref="KafkaPartitionActor"/> per assigned partition, and owns the producer
/// of the result topics. Sensors report their checkpoints to the partition actor that sent them
/// readings, so commits follow durability wherever the sensor lives in the cluster.
/// </summary>
public sealed class KafkaIntake : IAsyncDisposable
{
    private readonly ActorSystem _system;
    private readonly Parts _parts;
    private readonly IActorRef _sensors;
    private IControl? _control;

    private KafkaIntake(ActorSystem system, Parts parts, IActorRef sensors)
    {
        _system = system;
        _parts = parts;
        _sensors = sensors;
    }

    /// <summary>Completes when the current consuming stream ends.</summary>
    public Task Completion { get; private set; } = Task.CompletedTask;

    /// <summary>Node-wide parts the sensors need: built before sharding starts, consuming begins later.</summary>
    public sealed record Parts(KafkaSettings Settings, KafkaOutputs Outputs, KafkaDeadLetterSink DeadLetters, IngestionSettings Ingestion,
        IngestionCounters Counters, KafkaMetrics Metrics, IActorRef Results, IActorRef Redelivery);

    public static Parts Prepare(ActorSystem system, KafkaSettings settings, IngestionSettings ingestion, KafkaMetrics metrics)
    {
        var clientId = "anomaly-actors-" + system.Name;
        var outputs = new KafkaOutputs(settings, clientId);
        var deadLetters = new KafkaDeadLetterSink(outputs, metrics);
        var results = system.ActorOf(KafkaResultsActor.Props(outputs, deadLetters, metrics), "kafka-results");
        var redelivery = system.ActorOf(KafkaRedeliveryActor.Props(settings, ingestion, metrics), "kafka-redelivery");
        return new Parts(settings, outputs, deadLetters, ingestion, new IngestionCounters(), metrics, results, redelivery);
    }

    public static KafkaIntake Start(ActorSystem system, Parts parts, IActorRef sensors)
    {
        var intake = new KafkaIntake(system, parts, sensors);
        intake.Resume();
        return intake;
    }

    /// <summary>
    /// Joins the group and consumes again after <see cref="StopAsync"/> (sensors stay as they are;
    /// the group resumes at the committed offsets, so what they already applied is skipped).
    /// </summary>
    public void Resume()
    {
        if (_control is not null)
        {
            throw new InvalidOperationException("The Kafka intake is already consuming.");
        }

        (_control, Completion) = Run(_system, _parts, _sensors);
    }

    private static (IControl Control, Task Completion) Run(ActorSystem system, Parts parts, IActorRef sensors)
    {
        var settings = parts.Settings;
        var log = Logging.GetLogger(system, typeof(KafkaIntake));
        var materializer = system.Materializer(namePrefix: "kafka-intake");
        var committer = Source.ActorRef<ICommittable>(100_000, OverflowStrategy.DropHead)
            .Via(Committer.Flow(
                new CommitterSettings(1000, settings.CommitInterval),
                e => log.Warning("Offset commit failed (a later commit will cover it): {0}", e.Message)))
            .To(Sink.ForEach<int>(committed =>
            {
                if (committed > 0)
                {
                    parts.Metrics.CommitDone();
                }
            }))
            .Run(materializer);

        var consumerSettings = ConsumerSettings<string?, byte[]>.Create(new InterningUtf8Deserializer(), Deserializers.ByteArray)
            .WithBootstrapServers(settings.BootstrapServers)
            .WithGroupId(settings.GroupId)
            .WithClientId("anomaly-actors-" + system.Name)
            .WithPartitionBufferSize(settings.PartitionBuffer)
            .WithProperty("session.timeout.ms", ((int)settings.SessionTimeout.TotalMilliseconds).ToString(CultureInfo.InvariantCulture))
            .WithProperty("heartbeat.interval.ms", Math.Max(100, (int)settings.SessionTimeout.TotalMilliseconds / 10).ToString(CultureInfo.InvariantCulture))
            .WithProperty("fetch.wait.max.ms", "10");
        foreach (var (key, value) in settings.ConsumerProperties)
        {
            consumerSettings = consumerSettings.WithProperty(key, value);
        }

        var generation = Interlocked.Increment(ref _runs) * 1000;
        var (control, completion) = KafkaConsumer.CommittablePartitionedSource(consumerSettings, Subscriptions.Topics(settings.ReadingsTopic))
            .Select(assigned =>
            {
                var partition = assigned.Partition.Partition.Value;
                var actor = system.ActorOf(
                    KafkaPartitionActor.Props(partition, settings.ReadingsTopic, parts.Ingestion.CreateParser(), parts.Counters, parts.DeadLetters,
                        sensors, committer, settings.CommitInterval, parts.Metrics),
                    $"kafka-partition-{partition}-{Interlocked.Increment(ref generation)}");
                log.Info("Consuming {0} partition {1}", settings.ReadingsTopic, partition);
                parts.Metrics.Assigned();
                // One batch at a time per partition, and the next is whatever arrived meanwhile (up to
                // max-batch): a quiet partition's message goes to the actor at once, a busy one's
                // batches grow to what the actor's previous batch took to process. No timer is
                // involved: Akka's scheduler ticks every 10 ms at best, which made GroupedWithin's
                // 5 ms window 10-20 ms, and several small batches in flight cost a round trip and a
                // message per sensor each (measured: benchmarks/README.md, Kafka section).
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
                            parts.Metrics.Revoked();
                            actor.Tell(PartitionRevoked.Instance);
                        }, TaskScheduler.Default);
                        return NotUsed.Instance;
                    });
            })
            .MergeMany(4096, sub => sub.MapMaterializedValue(_ => NoControl.Instance))
            .ToMaterialized(Sink.Ignore<BatchDelivered>(), Keep.Both)
            .Run(materializer);
        completion.ContinueWith(t =>
        {
            if (t.IsFaulted)
            {
                log.Error(t.Exception, "The Kafka intake stream failed");
            }
        }, TaskScheduler.Default);
        return (control, completion);
    }

    /// <summary>Stops consuming and leaves the group; in-flight work is abandoned (it is re-read from the committed offset).</summary>
    public async Task StopAsync()
    {
        if (_control is { } control)
        {
            _control = null;
            await control.Shutdown().ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync() => await StopAsync().ConfigureAwait(false);

    private static int _runs;

    private sealed class NoControl : IControl
    {
        public static readonly IControl Instance = new NoControl();

        public Task Stop() => Task.CompletedTask;

        public Task Shutdown() => Task.CompletedTask;

        public Task IsShutdown => Task.CompletedTask;
    }
}
