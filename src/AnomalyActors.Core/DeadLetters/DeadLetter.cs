namespace AnomalyActors.Core.DeadLetters;

/// <summary>Input that did not become scored readings, with the reason and the raw payload.</summary>
public sealed record DeadLetter(string Source, string Topic, DeadLetterReason Reason, string Detail, ReadOnlyMemory<byte> Payload, long ArrivalMs);

/// <summary>Where dead letters go (a file, a Kafka topic).</summary>
public interface IDeadLetterSink
{
    /// <summary>Returns once the letter is written as durably as the sink can make it without waiting on a network.</summary>
    void Write(DeadLetter letter);
}
