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
/// <param name="Publisher">The device account the source vouches published it, which may speak only for itself; null when trusted.</param>
public readonly record struct SourceMessage(string Source, long Position, string Topic, ReadOnlyMemory<byte> Payload, long ArrivalMs, string? Publisher = null);

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
    private readonly int _maxTopicLength;
    private readonly int _maxStreamKeyLength;

    /// <param name="counters">Counts dead letters per reason; null where the messages were counted before (a re-delivery).</param>
    public MessageDecoder(IngestionSettings settings, IngestionCounters? counters)
    {
        _parser = settings.CreateParser();
        _counters = counters;
        _maxTopicLength = settings.MaxTopicLength;
        _maxStreamKeyLength = settings.MaxStreamKeyLength;
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
        var outcome = message.Topic.Length > _maxTopicLength
            ? ParseOutcome.Fail(DeadLetterReason.NameTooLong, $"topic of {message.Topic.Length} characters; at most {_maxTopicLength}")
            : _parser.Parse(message.Topic, message.Payload.Span, message.ArrivalMs, readings);
        if (outcome.Ok && LongestKey(readings, before) is var longest && longest > _maxStreamKeyLength)
        {
            outcome = ParseOutcome.Fail(DeadLetterReason.NameTooLong, $"stream key site/device/metric of {longest} characters; at most {_maxStreamKeyLength}");
            readings.RemoveRange(before, readings.Count - before);
        }

        if (outcome.Ok && readings.Count - before > MaxReadingsPerMessage)
        {
            outcome = ParseOutcome.Fail(DeadLetterReason.PayloadTooLarge, $"{readings.Count - before} readings in one message; at most {MaxReadingsPerMessage}");
            readings.RemoveRange(before, readings.Count - before);
        }

        if (outcome.Ok && message.Publisher is { } publisher && ForeignDevice(readings, before, publisher) is { } foreign)
        {
            outcome = ParseOutcome.Fail(DeadLetterReason.ForeignDevice, $"the message names device '{Clip(foreign)}'; the device account '{publisher}' may speak only for itself");
            readings.RemoveRange(before, readings.Count - before);
        }

        if (outcome.Ok)
        {
            return null;
        }

        _counters?.AddDeadLetter(outcome.Reason);
        var source = message.Position < 0 ? message.Source : string.Concat(message.Source, "@", message.Position.ToString(System.Globalization.CultureInfo.InvariantCulture));
        // The dead letter keeps the topic for the operator, but not an unbounded one.
        var topic = message.Topic.Length <= _maxTopicLength ? message.Topic : message.Topic[.._maxTopicLength] + "...";
        return new DeadLetter(source, topic, outcome.Reason, outcome.Detail, message.Payload, message.ArrivalMs);
    }

    /// <summary>The first device among the new readings other than <paramref name="publisher"/>, or null.</summary>
    private static string? ForeignDevice(List<Reading> readings, int from, string publisher)
    {
        for (var i = from; i < readings.Count; i++)
        {
            var key = readings[i].StreamKey.AsSpan();
            var device = key[(key.IndexOf('/') + 1)..];
            device = device[..device.IndexOf('/')];
            if (!device.SequenceEqual(publisher))
            {
                return device.ToString();
            }
        }

        return null;
    }

    private static string Clip(string text) => text.Length <= 64 ? text : text[..64] + "...";

    private static int LongestKey(List<Reading> readings, int from)
    {
        var longest = 0;
        for (var i = from; i < readings.Count; i++)
        {
            longest = Math.Max(longest, readings[i].StreamKey.Length);
        }

        return longest;
    }
}
