namespace AnomalyActors.Ingestion.Intake;

/// <summary>A raw message from a source (MQTT publish, Kafka record, CSV line) before parsing.</summary>
public interface IIngestMessage
{
    string Topic { get; }
    ReadOnlyMemory<byte> Payload { get; }
    long ArrivalMs { get; }

    /// <summary>
    /// The device account the source vouches published the message (the embedded broker does), which
    /// may then speak only for itself; null when the publisher is trusted (a service account, a bridge).
    /// </summary>
    string? Publisher => null;
}

/// <summary>
/// Messages whose readings are all durable in the intake and whose bad payloads are all
/// dead-lettered, in arrival order: safe to acknowledge to the source.
/// </summary>
public sealed record IngestedBatch<T>(IReadOnlyList<T> Messages, int Readings, int DeadLetters);
