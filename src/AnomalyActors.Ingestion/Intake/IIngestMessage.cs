using AnomalyActors.Core.Protocol;

namespace AnomalyActors.Ingestion.Intake;

/// <summary>
/// A message's identity at its source (see <see cref="DeliveryKey"/>), whether the source marked it as
/// a resend, and how many of its session's latest messages may still come again.
/// </summary>
public readonly record struct SourceDelivery(DeliveryKey Key, bool Resent, int Window);

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

    /// <summary>Its key at the source, so that the intake stores it once however often it comes; null when the source names none.</summary>
    SourceDelivery? Delivery => null;
}

/// <summary>
/// Messages whose readings are all durable in the intake and whose bad payloads are all
/// dead-lettered, in arrival order: safe to acknowledge to the source.
/// </summary>
public sealed record IngestedBatch<T>(IReadOnlyList<T> Messages, int Readings, int DeadLetters);
