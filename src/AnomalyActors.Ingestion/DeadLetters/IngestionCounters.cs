using AnomalyActors.Core.DeadLetters;

namespace AnomalyActors.Ingestion.DeadLetters;

/// <summary>Messages, readings and dead letters per reason of one ingestion source; safe to read from any thread.</summary>
public sealed class IngestionCounters
{
    private static readonly DeadLetterReason[] Reasons = Enum.GetValues<DeadLetterReason>();
    private readonly long[] _deadLetters = new long[Reasons.Length];
    private long _messages;
    private long _readings;
    private long _acknowledged;

    /// <summary>Messages received (good and bad).</summary>
    public long Messages => Interlocked.Read(ref _messages);

    /// <summary>Readings made durable in the intake.</summary>
    public long Readings => Interlocked.Read(ref _readings);

    /// <summary>Messages acknowledged to their source after their readings (or dead letter) were durable.</summary>
    public long Acknowledged => Interlocked.Read(ref _acknowledged);

    public long DeadLetters
    {
        get
        {
            long total = 0;
            for (var i = 0; i < _deadLetters.Length; i++)
            {
                total += Interlocked.Read(ref _deadLetters[i]);
            }

            return total;
        }
    }

    public long DeadLettersFor(DeadLetterReason reason) => Interlocked.Read(ref _deadLetters[(int)reason]);

    public IReadOnlyDictionary<DeadLetterReason, long> DeadLettersByReason() =>
        Reasons.Where(r => DeadLettersFor(r) > 0).ToDictionary(r => r, DeadLettersFor);

    public void AddMessages(long count) => Interlocked.Add(ref _messages, count);

    public void AddReadings(long count) => Interlocked.Add(ref _readings, count);

    public void AddAcknowledged(long count) => Interlocked.Add(ref _acknowledged, count);

    public void AddDeadLetter(DeadLetterReason reason) => Interlocked.Increment(ref _deadLetters[(int)reason]);

    public override string ToString()
    {
        var reasons = string.Join(", ", DeadLettersByReason().Select(kv => $"{kv.Key} {kv.Value}"));
        return $"{Messages} messages, {Readings} readings, {DeadLetters} dead letters{(reasons.Length > 0 ? $" ({reasons})" : string.Empty)}";
    }
}
