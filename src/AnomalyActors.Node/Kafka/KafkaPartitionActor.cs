using Akka.Actor;
using Akka.Event;
using AnomalyActors.Core.Commands;
using AnomalyActors.Core.Protocol;
using AnomalyActors.Core.State;
using AnomalyActors.Ingestion.DeadLetters;
using DeadLetter = AnomalyActors.Ingestion.DeadLetters.DeadLetter;
using AnomalyActors.Ingestion.Payload;
using AnomalyActors.Kafka;
using Confluent.Kafka;

namespace AnomalyActors.Node.Kafka;

/// <summary>
/// One assigned partition of the readings topic, for as long as this node owns it. Parses each
/// batch of messages, hands every stream its slice (with per-reading offsets derived from the Kafka
/// offsets) and commits the position every sensor has snapshotted past. <see cref="ExternalLogPartitionState"/>
/// decides what may be committed; this actor only applies it.
/// </summary>
public sealed class KafkaPartitionActor : ReceiveActor, IWithTimers
{
    private readonly ExternalLogPartitionState _state;
    private readonly string _topic;
    private readonly PayloadParser _parser;
    private readonly IngestionCounters _counters;
    private readonly KafkaDeadLetterSink _deadLetters;
    private readonly IActorRef _sensors;
    private readonly IActorRef _committer;
    private readonly KafkaMetrics _metrics;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly List<Reading> _parsed = [];
    private readonly Dictionary<string, SliceBuilder> _slices = new(StringComparer.Ordinal);
    private CommittableOffset? _anchor;
    private long _committed = -1;

    public KafkaPartitionActor(
        int partition,
        string topic,
        PayloadParser parser,
        IngestionCounters counters,
        KafkaDeadLetterSink deadLetters,
        IActorRef sensors,
        IActorRef committer,
        TimeSpan commitInterval,
        KafkaMetrics metrics)
    {
        _state = new ExternalLogPartitionState(partition);
        _topic = topic;
        _parser = parser;
        _counters = counters;
        _deadLetters = deadLetters;
        _sensors = sensors;
        _committer = committer;
        _metrics = metrics;

        Receive<MessageBatch>(Deliver);
        Receive<ReportCheckpoint>(c => _state.Checkpoint(c.SensorId, c.Offset));
        Receive<DeadLetterWritten>(w => _state.Release(w.MessageOffset));
        Receive<CommitTick>(_ => Commit());
        Receive<PartitionRevoked>(_ =>
        {
            // Commit what is durable while the position is still ours to move; the rest is
            // re-read by the next owner and skipped by sensors whose state is past it.
            Commit();
            Context.Stop(Self);
        });
        Timers.StartPeriodicTimer("commit", CommitTick.Instance, commitInterval);
    }

    public ITimerScheduler Timers { get; set; } = null!;

    private void Deliver(MessageBatch batch)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var partition = _state.PartitionId;
        var messages = batch.Messages;
        var readings = 0;
        for (var m = 0; m < messages.Count; m++)
        {
            var message = messages[m];
            var record = message.Record;
            var messageOffset = record.Offset.Value;
            _parsed.Clear();
            var payload = record.Message.Value ?? [];
            var arrival = record.Message.Timestamp.UnixTimestampMs;
            // The key plays the MQTT topic's part in choosing the format (a bridge keeps the device's
            // topic as the key); unkeyed messages are matched by the Kafka topic's name.
            var outcome = _parser.Parse(record.Message.Key ?? _topic, payload, arrival, _parsed);
            if (outcome.Ok && _parsed.Count > ExternalOffsets.MaxReadingsPerMessage)
            {
                outcome = ParseOutcome.Fail(DeadLetterReason.PayloadTooLarge,
                    $"{_parsed.Count} readings in one message; at most {ExternalOffsets.MaxReadingsPerMessage}");
            }

            if (!outcome.Ok)
            {
                _parsed.Clear();
                DeadLetter(record, outcome, arrival);
                continue;
            }

            for (var i = 0; i < _parsed.Count; i++)
            {
                var reading = _parsed[i];
                if (!_slices.TryGetValue(reading.StreamKey, out var slice))
                {
                    slice = new SliceBuilder();
                    _slices[reading.StreamKey] = slice;
                }

                slice.Add(ExternalOffsets.Compose(messageOffset, i), reading.TimestampMs, reading.Value);
            }

            readings += _parsed.Count;
        }

        // Once per batch: the counters are shared by every partition actor, and an interlocked add
        // per message bounced their cache line between the cores.
        _counters.AddMessages(messages.Count);
        _counters.AddReadings(readings);

        foreach (var (key, slice) in _slices)
        {
            if (slice.Count == 0)
            {
                continue;
            }

            var (offsets, timestamps, values) = slice.Take();
            var previous = _state.Delivered(key, offsets[0], offsets[^1]);
            _sensors.Tell(new ScoreReadings(key, partition, offsets[0], previous, timestamps, values, Replay: false, Offsets: offsets));
        }

        if (_slices.Count > 4096)
        {
            // Builders of streams long gone would otherwise pile up.
            _slices.Clear();
        }

        if (messages.Count > 0)
        {
            // Any message of the partition serves as the anchor commits are made from.
            _anchor = messages[^1].CommitableOffset;
            _state.DeliveredThrough(messages[^1].Record.Offset.Value + 1);
        }

        _metrics.Consumed(messages.Count, readings, System.Diagnostics.Stopwatch.GetElapsedTime(started));
        Sender.Tell(BatchDelivered.Instance);
    }

    private void DeadLetter(ConsumeResult<string?, byte[]> record, ParseOutcome outcome, long arrival)
    {
        var reason = outcome.Reason;
        _counters.AddDeadLetter(reason);
        _metrics.DeadLettered();
        var messageOffset = record.Offset.Value;
        _state.Hold(messageOffset);
        var self = Self;
        _deadLetters.WriteAsync(new DeadLetter(
                $"kafka:{record.Topic}/{record.Partition.Value}@{messageOffset}",
                record.Message.Key ?? record.Topic,
                reason,
                outcome.Detail,
                record.Message.Value ?? [],
                arrival))
            .ContinueWith(_ => self.Tell(new DeadLetterWritten(messageOffset)), TaskScheduler.Default);
    }

    private void Commit()
    {
        var position = _state.CommitPosition();
        if (_anchor is null || position <= 0 || position <= _committed)
        {
            return;
        }

        _committed = position;
        _committer.Tell(_anchor.At(position - 1));
        _metrics.Committed();
    }

    public static Props Props(
        int partition,
        string topic,
        PayloadParser parser,
        IngestionCounters counters,
        KafkaDeadLetterSink deadLetters,
        IActorRef sensors,
        IActorRef committer,
        TimeSpan commitInterval,
        KafkaMetrics metrics) =>
        Akka.Actor.Props.Create(() => new KafkaPartitionActor(partition, topic, parser, counters, deadLetters, sensors, committer, commitInterval, metrics));

    private sealed class SliceBuilder
    {
        private readonly List<long> _offsets = [];
        private readonly List<long> _timestamps = [];
        private readonly List<double> _values = [];

        public int Count => _offsets.Count;

        public void Add(long offset, long timestamp, double value)
        {
            _offsets.Add(offset);
            _timestamps.Add(timestamp);
            _values.Add(value);
        }

        public (long[] Offsets, long[] Timestamps, double[] Values) Take()
        {
            var result = (_offsets.ToArray(), _timestamps.ToArray(), _values.ToArray());
            _offsets.Clear();
            _timestamps.Clear();
            _values.Clear();
            return result;
        }
    }

    private sealed class CommitTick
    {
        public static readonly CommitTick Instance = new();
    }

    private sealed record DeadLetterWritten(long MessageOffset);
}

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
