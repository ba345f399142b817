namespace AnomalyActors.Kafka;

/// <summary>Counters of the Kafka paths of one node, lock-free, read by hosts, tests and benchmarks.</summary>
public sealed class KafkaMetrics
{
    private long _messagesConsumed;
    private long _readingsDelivered;
    private long _deadLetters;
    private long _deadLettersWritten;
    private long _alertsProduced;
    private long _enrichedProduced;
    private long _commits;
    private long _commitsDone;
    private long _redeliveries;
    private long _assignedPartitions;
    private long _batches;
    private long _deliverTicks;

    public long MessagesConsumed => Volatile.Read(ref _messagesConsumed);
    public long ReadingsDelivered => Volatile.Read(ref _readingsDelivered);
    public long DeadLetters => Volatile.Read(ref _deadLetters);
    public long DeadLettersWritten => Volatile.Read(ref _deadLettersWritten);
    public long AlertsProduced => Volatile.Read(ref _alertsProduced);
    public long EnrichedProduced => Volatile.Read(ref _enrichedProduced);
    /// <summary>Commit positions requested by partition actors.</summary>
    public long Commits => Volatile.Read(ref _commits);

    /// <summary>Commits the group coordinator acknowledged.</summary>
    public long CommitsDone => Volatile.Read(ref _commitsDone);
    public long Redeliveries => Volatile.Read(ref _redeliveries);

    /// <summary>Partitions of the readings topic this node currently consumes.</summary>
    public long AssignedPartitions => Volatile.Read(ref _assignedPartitions);

    /// <summary>Batches handed from the consumer to partition actors.</summary>
    public long Batches => Volatile.Read(ref _batches);

    /// <summary>Time partition actors spent parsing and delivering batches.</summary>
    public TimeSpan DeliverTime => TimeSpan.FromTicks(Volatile.Read(ref _deliverTicks));

    internal void Consumed(int messages, int readings, TimeSpan took)
    {
        Interlocked.Increment(ref _batches);
        Interlocked.Add(ref _deliverTicks, took.Ticks);
        Interlocked.Add(ref _messagesConsumed, messages);
        Interlocked.Add(ref _readingsDelivered, readings);
    }

    internal void DeadLettered() => Interlocked.Increment(ref _deadLetters);
    internal void DeadLetterWritten() => Interlocked.Increment(ref _deadLettersWritten);
    internal void AlertProduced() => Interlocked.Increment(ref _alertsProduced);
    internal void EnrichedDelivered(int count) => Interlocked.Add(ref _enrichedProduced, count);
    internal void Committed() => Interlocked.Increment(ref _commits);
    internal void CommitDone() => Interlocked.Increment(ref _commitsDone);
    internal void Redelivered() => Interlocked.Increment(ref _redeliveries);
    internal void Assigned() => Interlocked.Increment(ref _assignedPartitions);
    internal void Revoked() => Interlocked.Decrement(ref _assignedPartitions);
}
