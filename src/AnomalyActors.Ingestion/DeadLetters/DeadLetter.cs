using AnomalyActors.Ingestion.Payload;

namespace AnomalyActors.Ingestion.DeadLetters;

/// <summary>A message that did not become readings, with the reason and the raw payload.</summary>
public sealed record DeadLetter(string Source, string Topic, DeadLetterReason Reason, string Detail, ReadOnlyMemory<byte> Payload, long ArrivalMs);

/// <summary>Where dead letters go (a file, a Kafka topic). Called from one stream stage at a time.</summary>
public interface IDeadLetterSink
{
    /// <summary>Returns once the letter is written as durably as the sink can make it.</summary>
    void Write(DeadLetter letter);
}
