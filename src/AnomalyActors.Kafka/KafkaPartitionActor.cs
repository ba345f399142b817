using Akka.Actor;
using Akka.Event;
using AnomalyActors.Core.Commands;
using DeadLetter = AnomalyActors.Core.DeadLetters.DeadLetter;
using AnomalyActors.Core.Protocol;
using AnomalyActors.Core.State;
using AnomalyActors.Ingestion;
using AnomalyActors.Ingestion.DeadLetters;
using AnomalyActors.Ingestion.Intake;
using AnomalyActors.Streams.Kafka;
using Confluent.Kafka;

namespace AnomalyActors.Kafka;

/// <summary>
/// One assigned partition of the readings topic, for as long as this node owns it: the log
/// partition its streams' sensors talk to. Decodes each batch of messages, hands every stream its
/// slice (per-reading offsets derived from the Kafka offsets), commits the position every sensor
/// has snapshotted past, and serves sensors' re-delivery requests. <see cref="ExternalLogPartitionState"/>
/// decides what may be committed; this actor only applies it.
/// </summary>
public sealed class KafkaPartitionActor : ReceiveActor, IWithTimers
{
    private readonly ExternalLogPartitionState _state;
    private readonly KafkaPartitionContext _context;
    private readonly string _source;
    private readonly MessageDecoder _decoder;
    private readonly ChunkBuilder _chunk = new();
    private readonly List<Reading> _decoded = [];
    private readonly List<CheckDelivery> _dueForCheck = [];
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private CommittableOffset? _anchor;
    private long _committed = -1;

    public KafkaPartitionActor(int partition, KafkaPartitionContext context)
    {
        _state = new ExternalLogPartitionState(partition);
        _context = context;
        _source = $"kafka:{context.Settings.ReadingsTopic}/{partition}";
        _decoder = new MessageDecoder(context.Ingestion, context.Counters);

        Receive<MessageBatch>(Deliver);
        Receive<ReportCheckpoint>(c => _state.Checkpoint(c.SensorId, c.Offset));
        Receive<DeliveryConfirmed>(c => _state.Confirmed(c.SensorId, c.Offset));
        Receive<CheckTick>(_ => CheckDeliveries());
        Receive<RedeliverReadings>(request => context.Rereader.Serve(request, Sender, Self, _log));
        Receive<DeadLetterWritten>(w => _state.Release(w.MessageOffset));
        Receive<CommitTick>(_ => Commit());
        Receive<PartitionRevoked>(_ =>
        {
            // Commit what is durable while the position is still ours to move; the rest is
            // re-read by the next owner and skipped by sensors whose state is past it.
            Commit();
            Context.Stop(Self);
        });
        Timers.StartPeriodicTimer("commit", CommitTick.Instance, context.Settings.CommitInterval);
        Timers.StartPeriodicTimer("check", CheckTick.Instance, context.Settings.DeliveryCheckAfter / 2);
    }

    public ITimerScheduler Timers { get; set; } = null!;

    private void Deliver(MessageBatch batch)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var partition = _state.PartitionId;
        var messages = batch.Messages;
        for (var m = 0; m < messages.Count; m++)
        {
            var record = messages[m].Record;
            var messageOffset = record.Offset.Value;
            var arrival = record.Message.Timestamp.UnixTimestampMs;
            // The key plays the MQTT topic's part in choosing the format (a bridge keeps the device's
            // topic as the key); unkeyed messages are matched by the Kafka topic's name.
            var message = new SourceMessage(_source, messageOffset, record.Message.Key ?? _context.Settings.ReadingsTopic, record.Message.Value ?? [], arrival);
            _decoded.Clear();
            if (_decoder.Decode(message, _decoded) is { } deadLetter)
            {
                DeadLetter(messageOffset, deadLetter);
                continue;
            }

            for (var i = 0; i < _decoded.Count; i++)
            {
                var reading = _decoded[i];
                _chunk.Add(reading.StreamKey, reading.TimestampMs, reading.Value, ExternalOffsets.Compose(messageOffset, i));
            }
        }

        var readings = _chunk.Count;
        // Once per batch: the counters are shared by every partition actor, and an interlocked add
        // per message bounced their cache line between the cores.
        _context.Counters.AddMessages(messages.Count);
        _context.Counters.AddReadings(readings);

        var chunk = _chunk.Build();
        var now = Environment.TickCount64;
        for (var g = 0; g < chunk.Keys.Length; g++)
        {
            var previous = _state.Delivered(chunk.Keys[g], chunk.FirstOffsetOf(g, 0), chunk.LastOffsetOf(g, 0), now);
            _context.Sensors.Tell(chunk.Slice(g, partition, 0, previous, replay: false));
        }

        if (messages.Count > 0)
        {
            // Any message of the partition serves as the anchor commits are made from.
            _anchor = messages[^1].CommitableOffset;
            _state.DeliveredThrough(messages[^1].Record.Offset.Value + 1);
        }

        _context.Metrics.Consumed(messages.Count, readings, System.Diagnostics.Stopwatch.GetElapsedTime(started));
        Sender.Tell(BatchDelivered.Instance);
    }

    /// <summary>The message is not committed past until the dead-letters topic has it.</summary>
    private void DeadLetter(long messageOffset, DeadLetter deadLetter)
    {
        _context.Metrics.DeadLettered();
        _state.Hold(messageOffset);
        var self = Self;
        _context.DeadLetters.WriteAsync(deadLetter)
            .ContinueWith(_ => self.Tell(new DeadLetterWritten(messageOffset)), TaskScheduler.Default);
    }

    private void CheckDeliveries()
    {
        // A stopping node hands its sensors off first: a check sent to one now waits in the
        // sensors' region for a home that never comes, and holds the region's stop until its
        // timeout (10 s). Nothing is lost by not asking: what no sensor confirmed is read again
        // from the uncommitted offsets wherever the sensor starts next.
        if (CoordinatedShutdown.Get(Context.System).ShutdownReason is not null)
        {
            return;
        }

        _dueForCheck.Clear();
        _state.DueForCheck(Environment.TickCount64, (long)_context.Settings.DeliveryCheckAfter.TotalMilliseconds, _dueForCheck);
        _dueForCheck.ForEach(check => _context.Sensors.Tell(check));
    }

    private void Commit()
    {
        var position = _state.CommitPosition();
        if (_anchor is null || position <= 0 || position <= _committed)
        {
            return;
        }

        _committed = position;
        _context.Committer.Tell(_anchor.At(position - 1));
        _context.Metrics.Committed();
    }

    public static Props Props(int partition, KafkaPartitionContext context) =>
        Akka.Actor.Props.Create(() => new KafkaPartitionActor(partition, context));

    private sealed class CommitTick
    {
        public static readonly CommitTick Instance = new();
    }

    private sealed class CheckTick
    {
        public static readonly CheckTick Instance = new();
    }

    private sealed record DeadLetterWritten(long MessageOffset);
}

/// <summary>What every partition actor of one consumer shares.</summary>
public sealed record KafkaPartitionContext(
    KafkaSettings Settings,
    IngestionSettings Ingestion,
    IngestionCounters Counters,
    KafkaMetrics Metrics,
    KafkaDeadLetterSink DeadLetters,
    PartitionRereader Rereader,
    IActorRef Sensors,
    IActorRef Committer);

/// <summary>Messages of one partition, in order; answered with <see cref="BatchDelivered"/>.</summary>
public sealed record MessageBatch(IReadOnlyList<CommittableMessage<string?, byte[]>> Messages);

public sealed class BatchDelivered
{
    public static readonly BatchDelivered Instance = new();
}

/// <summary>The partition went to another member (or the consumer stopped): commit what is durable and stop.</summary>
public sealed class PartitionRevoked
{
    public static readonly PartitionRevoked Instance = new();
}
