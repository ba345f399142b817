namespace AnomalyActors.Streams.Kafka;

/// <summary>Materialized by consumer sources: stops the stream and closes the consumer.</summary>
public interface IControl
{
    /// <summary>Stops emitting and completes the stream; the consumer stays open for commits.</summary>
    Task Stop();

    /// <summary>Stops and closes the consumer (leaving the group). Pending commits are attempted first.</summary>
    Task Shutdown();

    /// <summary>Completes once the consumer is closed.</summary>
    Task IsShutdown { get; }
}
