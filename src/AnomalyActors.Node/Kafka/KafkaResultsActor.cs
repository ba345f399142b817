using System.Globalization;
using System.Text;
using System.Text.Json;
using Akka.Actor;
using Akka.Event;
using AnomalyActors.Core.Commands;
using AnomalyActors.Core.Events;
using AnomalyActors.Core.Protocol;
using AnomalyActors.Core.State;
using AnomalyActors.Ingestion.DeadLetters;
using DeadLetter = AnomalyActors.Ingestion.DeadLetters.DeadLetter;
using AnomalyActors.Ingestion.Payload;
using AnomalyActors.Node.Actors;
using Confluent.Kafka;

namespace AnomalyActors.Node.Kafka;

/// <summary>
/// Publishes a node's results to the site's Kafka topics: alerts (at least once: a sensor hears
/// <see cref="AlertWritten"/> only after the delivery report, so until then no snapshot covers the
/// episode and a crash sends it again with the same id), enriched readings (confirmed per batch the
/// same way) and dead letters of readings refused by sensors. Produce never blocks; delivery
/// reports come back on librdkafka's thread and are turned into messages.
/// </summary>
public sealed class KafkaResultsActor : ReceiveActor, IWithTimers
{
    private readonly KafkaOutputs _outputs;
    private readonly KafkaDeadLetterSink _deadLetters;
    private readonly KafkaMetrics _metrics;
    private readonly ILoggingAdapter _log = Context.GetLogger();

    public KafkaResultsActor(KafkaOutputs outputs, KafkaDeadLetterSink deadLetters, KafkaMetrics metrics)
    {
        _outputs = outputs;
        _deadLetters = deadLetters;
        _metrics = metrics;
        Receive<IEpisodeEvent>(alert => PublishAlert(alert, Sender));
        Receive<PublishScored>(scored => PublishEnriched(scored, Sender));
        Receive<ForeignReadings>(Refuse);
        Receive<Retry>(retry => retry.Again());
    }

    public ITimerScheduler Timers { get; set; } = null!;

    private void PublishAlert(IEpisodeEvent alert, IActorRef replyTo)
    {
        var stream = StreamId.Parse(alert.SensorId);
        var message = new Message<string?, byte[]>
        {
            Key = alert.AlertId,
            Value = Encoding.UTF8.GetBytes(AlertActor.ToJson(alert, stream)),
            Headers =
            [
                KafkaOutputs.Header("site", stream.Site),
                KafkaOutputs.Header("device", stream.Device),
                KafkaOutputs.Header("metric", stream.Metric),
                KafkaOutputs.Header("severity", Severity(alert)),
                KafkaOutputs.Header("type", alert is EpisodeOpened ? "open" : "close"),
            ],
        };
        var self = Self;
        _outputs.Produce(_outputs.Settings.AlertsTopic, message, report =>
        {
            if (report.Error.IsError)
            {
                self.Tell(new Retry(() => PublishAlert(alert, replyTo)));
                return;
            }

            _metrics.AlertProduced();
            replyTo.Tell(new AlertWritten(alert.AlertId));
        });
    }

    private void PublishEnriched(PublishScored scored, IActorRef replyTo)
    {
        var stream = StreamId.Parse(scored.SensorId);
        var remaining = scored.Readings.Length;
        var self = Self;
        foreach (var reading in scored.Readings)
        {
            var message = new Message<string?, byte[]> { Key = scored.SensorId, Value = EnrichedJson(stream, reading) };
            Produce(message);

            void Produce(Message<string?, byte[]> m) => _outputs.Produce(_outputs.Settings.EnrichedTopic, m, report =>
            {
                if (report.Error.IsError)
                {
                    self.Tell(new Retry(() => Produce(m)));
                    return;
                }

                if (Interlocked.Decrement(ref remaining) == 0)
                {
                    _metrics.EnrichedDelivered(scored.Readings.Length);
                    replyTo.Tell(new EnrichedWritten(scored.SensorId, scored.Readings.Length));
                }
            });
        }
    }

    private void Refuse(ForeignReadings foreign)
    {
        var slice = foreign.Slice;
        _metrics.Foreign(slice.Values.Length);
        _log.Error("Stream {0} is bound to partition {1} but {2} readings arrived on partition {3}; they are dead-lettered",
            slice.SensorId, foreign.BoundPartition, slice.Values.Length, slice.PartitionId);
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartArray();
            var stream = StreamId.Parse(slice.SensorId);
            for (var i = 0; i < slice.Values.Length; i++)
            {
                json.WriteStartObject();
                json.WriteString("site", stream.Site);
                json.WriteString("device", stream.Device);
                json.WriteString("metric", stream.Metric);
                json.WriteNumber("ts", slice.Timestamps.Span[i]);
                json.WriteNumber("value", slice.Values.Span[i]);
                json.WriteEndObject();
            }

            json.WriteEndArray();
        }

        _deadLetters.Write(new DeadLetter(
            "kafka",
            _outputs.Settings.ReadingsTopic,
            DeadLetterReason.WrongPartition,
            string.Create(CultureInfo.InvariantCulture, $"stream bound to partition {foreign.BoundPartition}, arrived on partition {slice.PartitionId} (offsets {slice.FirstOffset}-{slice.LastOffset})"),
            buffer.ToArray(),
            DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()));
    }

    public static string Severity(IEpisodeEvent alert) => alert switch
    {
        EpisodeOpened { Grade: >= 0.9 } => "critical",
        EpisodeOpened { Grade: >= 0.5 } => "major",
        EpisodeOpened => "minor",
        _ => "cleared",
    };

    public static byte[] EnrichedJson(StreamId stream, in ScoredReading reading)
    {
        using var buffer = new MemoryStream(256);
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("site", stream.Site);
            json.WriteString("device", stream.Device);
            json.WriteString("metric", stream.Metric);
            json.WriteNumber("ts", reading.TimestampMs);
            json.WriteNumber("offset", reading.Offset);
            json.WriteNumber("value", reading.Value);
            Number(json, "prediction", reading.Prediction);
            Number(json, "low", reading.Low);
            Number(json, "high", reading.High);
            json.WriteNumber("score", reading.Grade);
            json.WriteBoolean("anomaly", reading.OutOfBand);
            if (reading.Episode > 0)
            {
                json.WriteString("episodeId", AlertIds.For(stream.Key, reading.Episode));
            }
            else
            {
                json.WriteNull("episodeId");
            }

            json.WriteEndObject();
        }

        return buffer.ToArray();
    }

    private static void Number(Utf8JsonWriter json, string name, double value)
    {
        if (double.IsFinite(value))
        {
            json.WriteNumber(name, value);
        }
        else
        {
            json.WriteNull(name);
        }
    }

    public static Props Props(KafkaOutputs outputs, KafkaDeadLetterSink deadLetters, KafkaMetrics metrics) =>
        Akka.Actor.Props.Create(() => new KafkaResultsActor(outputs, deadLetters, metrics));

    /// <summary>A delivery failed permanently (rare: the producer retries transient errors itself).</summary>
    private sealed record Retry(Action Again);
}
