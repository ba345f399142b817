using AnomalyActors.Core.DeadLetters;
using AnomalyActors.Core.Protocol;
using AnomalyActors.Core.State;
using AnomalyActors.Ingestion.DeadLetters;
using AnomalyActors.Ingestion.Payload;

namespace AnomalyActors.Ingestion.Intake;

/// <summary>A message as a source received it, before decoding.</summary>
/// <param name="Source">Where it came from (e.g. <c>mqtt:client-id</c>, <c>kafka:topic/partition</c>).</param>
/// <param name="Position">Its position in that source (a Kafka offset), or -1 when the source has none.</param>
/// <param name="Topic">What picks its payload format: the MQTT topic, or a Kafka message's key.</param>
public readonly record struct SourceMessage(string Source, long Position, string Topic, ReadOnlyMemory<byte> Payload, long ArrivalMs);

/// <summary>
/// The one step from a source's message to readings or a dead letter, for every source (the MQTT
/// stage, a Kafka partition, a Kafka re-delivery): the same formats, the same limits, the same
/// reasons. A message is all or nothing. Not thread-safe (its parser reuses buffers): one per stage
/// or actor.
/// </summary>
public sealed class MessageDecoder
{
    private readonly PayloadParser _parser;
    private readonly IngestionCounters? _counters;

    /// <param name="counters">Counts dead letters per reason; null where the messages were counted before (a re-delivery).</param>
    public MessageDecoder(IngestionSettings settings, IngestionCounters? counters)
    {
        _parser = settings.CreateParser();
        _counters = counters;
    }

    /// <summary>
    /// More readings in one message than this are refused: a log numbers a message's readings within
    /// its offset (<see cref="ExternalOffsets"/>).
    /// </summary>
    public const int MaxReadingsPerMessage = ExternalOffsets.MaxReadingsPerMessage;

    /// <summary>
    /// Appends the message's readings to <paramref name="readings"/> and returns null, or returns its
    /// dead letter (counted) and appends nothing.
    /// </summary>
    public DeadLetter? Decode(in SourceMessage message, List<Reading> readings)
    {
        var before = readings.Count;
        var outcome = _parser.Parse(message.Topic, message.Payload.Span, message.ArrivalMs, readings);
        if (outcome.Ok && readings.Count - before > MaxReadingsPerMessage)
        {
            outcome = ParseOutcome.Fail(DeadLetterReason.PayloadTooLarge, $"{readings.Count - before} readings in one message; at most {MaxReadingsPerMessage}");
            readings.RemoveRange(before, readings.Count - before);
        }

        if (outcome.Ok)
        {
            return null;
        }

        _counters?.AddDeadLetter(outcome.Reason);
        var source = message.Position < 0 ? message.Source : string.Concat(message.Source, "@", message.Position.ToString(System.Globalization.CultureInfo.InvariantCulture));
        return new DeadLetter(source, message.Topic, outcome.Reason, outcome.Detail, message.Payload, message.ArrivalMs);
    }
}
