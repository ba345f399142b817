using System.Text;
using Akka.Actor;
using AnomalyActors.Core.Commands;
using AnomalyActors.Core.Events;
using AnomalyActors.Core.Protocol;
using AnomalyActors.Core.Results;
using Confluent.Kafka;

namespace AnomalyActors.Kafka;

/// <summary>
/// Publishes a node's results to the site's Kafka topics: alerts (at least once: a sensor hears
/// <see cref="AlertWritten"/> only after the delivery report, so until then no snapshot covers the
/// episode and a crash sends it again with the same id), enriched readings (confirmed per batch the
/// same way) and dead letters of readings refused by sensors. Produce never blocks; delivery
/// reports come back on librdkafka's thread and are turned into messages.
/// </summary>
public sealed class KafkaResultsActor : ReceiveActor
{
    private readonly KafkaOutputs _outputs;
    private readonly KafkaDeadLetterSink _deadLetters;
    private readonly KafkaMetrics _metrics;

    public KafkaResultsActor(KafkaOutputs outputs, KafkaMetrics metrics)
    {
        _outputs = outputs;
        _deadLetters = new KafkaDeadLetterSink(outputs, metrics);
        _metrics = metrics;
        Receive<IEpisodeEvent>(alert => PublishAlert(alert, Sender));
        Receive<PublishScored>(scored => PublishEnriched(scored, Sender));
        Receive<RefusedReadings>(Refuse);
        Receive<Retry>(retry => retry.Again());
    }

    private void PublishAlert(IEpisodeEvent alert, IActorRef replyTo)
    {
        var message = new Message<string?, byte[]>
        {
            Key = alert.AlertId,
            Value = Encoding.UTF8.GetBytes(ResultRecords.AlertJson(alert, _outputs.Site)),
            Headers = KafkaOutputs.Headers(ResultRecords.AlertAttributes(alert, _outputs.Site)),
        };
        var self = Self;
        var events = Context.System.EventStream;
        _outputs.Produce(_outputs.Settings.AlertsTopic, message, report =>
        {
            if (report.Error.IsError)
            {
                self.Tell(new Retry(() => PublishAlert(alert, replyTo)));
                return;
            }

            _metrics.AlertProduced();
            replyTo.Tell(new AlertWritten(alert.AlertId));
            events.Publish(new AlertDelivered(alert));
        });
    }

    private void PublishEnriched(PublishScored scored, IActorRef replyTo)
    {
        var stream = StreamId.Parse(scored.SensorId);
        var remaining = scored.Readings.Length;
        var self = Self;
        foreach (var reading in scored.Readings)
        {
            var message = new Message<string?, byte[]>
            {
                Key = scored.SensorId,
                Value = ResultRecords.EnrichedJson(stream, scored.Detector, reading, _outputs.Site),
                Headers = _outputs.OriginOnly(),
            };
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

    private void Refuse(RefusedReadings refused) =>
        _deadLetters.Write(ResultRecords.RefusedDeadLetter(refused, _outputs.Settings.ReadingsTopic, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()));

    public static Props Props(KafkaOutputs outputs, KafkaMetrics metrics) =>
        Akka.Actor.Props.Create(() => new KafkaResultsActor(outputs, metrics));

    /// <summary>A delivery failed permanently (rare: the producer retries transient errors itself).</summary>
    private sealed record Retry(Action Again);
}
