namespace AnomalyActors.Kafka;

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

/// <summary>
/// A control combined with the completion of the stream's sink: draining stops the source, lets the
/// elements already in flight (and their commits) finish, then closes the consumer.
/// </summary>
public sealed class DrainingControl<T>(IControl control, Task<T> streamCompletion) : IControl
{
    public Task<T> StreamCompletion { get; } = streamCompletion;

    public static DrainingControl<T> Create((IControl Control, Task<T> Completion) pair) => new(pair.Control, pair.Completion);

    public Task Stop() => control.Stop();

    public Task Shutdown() => control.Shutdown();

    public Task IsShutdown => control.IsShutdown;

    public async Task<T> DrainAndShutdown()
    {
        await control.Stop().ConfigureAwait(false);
        try
        {
            return await StreamCompletion.ConfigureAwait(false);
        }
        finally
        {
            await control.Shutdown().ConfigureAwait(false);
        }
    }
}
