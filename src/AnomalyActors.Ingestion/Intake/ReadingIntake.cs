using Akka.Actor;
using AnomalyActors.Core.Commands;

namespace AnomalyActors.Ingestion.Intake;

/// <summary>The node's durable intake as seen by a source: a batch goes in, the answer says whether it is durable.</summary>
public interface IReadingIntake
{
    /// <summary>True once every reading of the batch is durable; false when it was not stored (try again).</summary>
    Task<(bool Durable, string? Failure)> IngestAsync(IngestReadings batch);
}

/// <summary>The intake router of a node, asked with a timeout.</summary>
public sealed class ActorReadingIntake(IActorRef intake, TimeSpan timeout) : IReadingIntake
{
    public async Task<(bool Durable, string? Failure)> IngestAsync(IngestReadings batch)
    {
        try
        {
            return await intake.Ask<object>(batch, timeout).ConfigureAwait(false) switch
            {
                ReadingsAccepted => (true, null),
                ReadingsRejected rejected => (false, rejected.Reason),
                var other => (false, $"unexpected reply {other.GetType().Name}"),
            };
        }
        catch (AskTimeoutException)
        {
            return (false, $"no answer from the intake within {timeout.TotalSeconds:0.#} s");
        }
    }
}

/// <summary>
/// Source sequence numbers that keep increasing across restarts of the source (the start time in
/// milliseconds times a million, plus a counter), so the intake's duplicate check, which drops a
/// batch whose number is not above the last one stored for its source, never drops a new batch.
/// </summary>
public sealed class SourceSequence
{
    private readonly long _base = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1_000_000;
    private long _next;

    public long Next() => _base + Interlocked.Increment(ref _next);
}
