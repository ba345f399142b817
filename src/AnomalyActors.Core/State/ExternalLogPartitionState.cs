using AnomalyActors.Core.Commands;

namespace AnomalyActors.Core.State;

/// <summary>
/// Offsets of readings taken from an external replayable log (a Kafka partition). One message may
/// carry several readings, so a reading's offset is the message offset shifted left by
/// <see cref="IndexBits"/> plus its index in the message: strictly increasing within a partition,
/// and the message offset (what the consumer group commits) is recoverable from it.
/// </summary>
public static class ExternalOffsets
{
    public const int IndexBits = 10;

    /// <summary>More readings in one message than this are refused (dead-lettered), not truncated.</summary>
    public const int MaxReadingsPerMessage = 1 << IndexBits;

    public static long Compose(long messageOffset, int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(messageOffset);
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, MaxReadingsPerMessage);
        return (messageOffset << IndexBits) | (long)index;
    }

    public static long MessageOf(long offset) => offset >> IndexBits;
}

/// <summary>
/// The consumer's view of one partition of an external log used as the intake: which streams got
/// readings up to which offset, which offsets their snapshots cover, and so how far the group may
/// commit. A message's offset is committed only when every stream that received readings from it
/// (or before it) reported a snapshot covering them, and every message held back (a dead letter
/// awaiting its delivery report) is released. The readings themselves are never stored here: the
/// external log is the durable copy, replayed from the committed offset after a crash.
/// </summary>
public sealed class ExternalLogPartitionState(int partitionId)
{
    private readonly DeliveryTracker _deliveries = new();
    private readonly SortedSet<long> _heldMessages = [];

    public int PartitionId { get; } = partitionId;

    /// <summary>Offset of the next message not yet handed out; -1 before the first.</summary>
    public long NextMessage { get; private set; } = -1;

    /// <summary>Streams with readings delivered that no snapshot of theirs covers yet.</summary>
    public int SensorsBehind => _deliveries.StreamsBehind;

    public int HeldMessages => _heldMessages.Count;

    /// <summary>
    /// Records a slice handed to a stream; returns the offset of that stream's previous reading
    /// delivered by this consumer (-1 when none: the stream's snapshot covers whatever came before).
    /// </summary>
    public long Delivered(string sensorId, long firstOffset, long lastOffset, long nowMs = 0)
    {
        // An external log's readings go out as they are read: assigned and sent at once.
        var previous = _deliveries.Delivered(sensorId, firstOffset, lastOffset);
        _deliveries.Handed(sensorId, lastOffset, nowMs);
        return previous;
    }

    /// <summary>Every message before <paramref name="nextMessage"/> has been handed out.</summary>
    public void DeliveredThrough(long nextMessage) => NextMessage = Math.Max(NextMessage, nextMessage);

    /// <summary>A message whose output (a dead letter) is not yet confirmed: no commit may pass it.</summary>
    public void Hold(long messageOffset) => _heldMessages.Add(messageOffset);

    public void Release(long messageOffset) => _heldMessages.Remove(messageOffset);

    /// <summary>A stream's snapshot covers its readings up to <paramref name="offset"/>.</summary>
    public void Checkpoint(string sensorId, long offset) => _deliveries.Checkpoint(sensorId, offset);

    /// <summary>The stream has applied its readings up to <paramref name="offset"/>.</summary>
    public void Confirmed(string sensorId, long offset) => _deliveries.Confirmed(sensorId, offset);

    /// <summary>Quiet periods between checks of a stream that confirmed readings no snapshot covers yet.</summary>
    public const int UncoveredRecheckPeriods = DeliveryTracker.UncoveredRecheckPeriods;

    /// <summary>
    /// Streams quiet for <paramref name="quietMs"/> that have not confirmed their latest readings, or
    /// (less often) whose confirmed readings no snapshot covers yet: ask them.
    /// </summary>
    public void DueForCheck(long nowMs, long quietMs, List<CheckDelivery> due) =>
        _deliveries.DueForCheck(PartitionId, nowMs, quietMs, due);

    /// <summary>
    /// The position the group may commit (the offset of the first message that must be read again
    /// after a crash), or -1 while nothing has been handed out.
    /// </summary>
    public long CommitPosition()
    {
        if (NextMessage < 0)
        {
            return -1;
        }

        var position = NextMessage;
        var oldest = _deliveries.OldestNeeded(long.MaxValue);
        if (oldest != long.MaxValue)
        {
            position = Math.Min(position, ExternalOffsets.MessageOf(oldest));
        }

        if (_heldMessages.Count > 0)
        {
            position = Math.Min(position, _heldMessages.Min);
        }

        return position;
    }
}
