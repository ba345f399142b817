using AnomalyActors.Core.DeadLetters;

namespace AnomalyActors.Ingestion.Payload;

/// <summary>Result of parsing one message: readings were added, or nothing was and here is why.</summary>
public readonly record struct ParseOutcome(bool Ok, int Readings, DeadLetterReason Reason, string Detail)
{
    public static ParseOutcome Success(int readings) => new(true, readings, default, string.Empty);

    public static ParseOutcome Fail(DeadLetterReason reason, string detail) => new(false, 0, reason, detail);
}
