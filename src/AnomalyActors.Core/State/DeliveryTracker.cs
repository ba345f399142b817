using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using AnomalyActors.Core.Commands;

namespace AnomalyActors.Core.State;

/// <summary>
/// What a log partition (our own intake journal or an external log such as a Kafka partition) has
/// handed to each stream: the last offset delivered since start-up, for gap detection; the oldest
/// offset no snapshot of the stream covers yet, which bounds what may be deleted or committed; and
/// whether the stream confirmed applying what it got, so that a slice lost on the way (in flight to a
/// cluster member that died) is found even when the stream sends nothing more.
/// </summary>
internal sealed class DeliveryTracker
{
    private readonly Dictionary<string, Uncovered> _behind = new(StringComparer.Ordinal);

    // Kept after a checkpoint (unlike _behind): the next slice still needs its previous offset.
    private readonly Dictionary<string, Sent> _sent = new(StringComparer.Ordinal);

    /// <summary>Streams with delivered readings that no snapshot of theirs covers yet.</summary>
    public int StreamsBehind => _behind.Count;

    /// <summary>
    /// Records the readings [<paramref name="firstOffset"/>, <paramref name="lastOffset"/>] as
    /// the stream's next ones, in offset order; returns the offset of its previous reading (-1 when
    /// none since start-up: its snapshot covers whatever came before). They count as sent to it only
    /// once <see cref="Handed"/> says so: our own journal assigns offsets before its write is done,
    /// and asking a stream about readings still being written would only find a false gap.
    /// </summary>
    public long Delivered(string sensorId, long firstOffset, long lastOffset)
    {
        ref var sent = ref CollectionsMarshal.GetValueRefOrAddDefault(_sent, sensorId, out var seen);
        var previous = seen ? sent.LastOffset : -1;
        if (!seen)
        {
            sent.ConfirmedThrough = -1;
            sent.HandedThrough = -1;
        }

        sent.LastOffset = lastOffset;

        ref var uncovered = ref CollectionsMarshal.GetValueRefOrAddDefault(_behind, sensorId, out var exists);
        if (!exists)
        {
            uncovered.NeededFrom = firstOffset;
        }

        uncovered.LastDelivered = lastOffset;
        return previous;
    }

    /// <summary>The stream's readings up to <paramref name="lastOffset"/> went out to it at <paramref name="nowMs"/>.</summary>
    public void Handed(string sensorId, long lastOffset, long nowMs)
    {
        ref var sent = ref CollectionsMarshal.GetValueRefOrNullRef(_sent, sensorId);
        if (Unsafe.IsNullRef(ref sent))
        {
            return;
        }

        sent.HandedThrough = Math.Max(sent.HandedThrough, lastOffset);
        sent.DeliveredAtMs = nowMs;
    }

    /// <summary>A stream's snapshot covers its readings up to <paramref name="offset"/>.</summary>
    public void Checkpoint(string sensorId, long offset)
    {
        Confirmed(sensorId, offset);
        ref var uncovered = ref CollectionsMarshal.GetValueRefOrNullRef(_behind, sensorId);
        if (Unsafe.IsNullRef(ref uncovered))
        {
            return;
        }

        if (offset >= uncovered.LastDelivered)
        {
            _behind.Remove(sensorId);
        }
        else if (offset >= uncovered.NeededFrom)
        {
            uncovered.NeededFrom = offset + 1;
        }
    }

    /// <summary>The stream has applied its readings up to <paramref name="offset"/>.</summary>
    public void Confirmed(string sensorId, long offset)
    {
        ref var sent = ref CollectionsMarshal.GetValueRefOrNullRef(_sent, sensorId);
        if (Unsafe.IsNullRef(ref sent))
        {
            return;
        }

        sent.ConfirmedThrough = Math.Max(sent.ConfirmedThrough, offset);
    }

    /// <summary>
    /// How many quiet periods a stream that confirmed its readings, but whose snapshot does not cover
    /// them yet, waits between checks. Confirmed only means applied in memory: a member that dies
    /// takes that state with it, and the stream's next incarnation, recovered from an older
    /// snapshot, would learn of the readings it lacks only from a later slice, which a stream that
    /// went quiet never gets.
    /// </summary>
    public const int UncoveredRecheckPeriods = 5;

    /// <summary>
    /// Adds to <paramref name="due"/> a check for each stream that has been quiet (nothing handed
    /// out) for at least <paramref name="quietMs"/> and either has not confirmed its latest readings
    /// (asked again every <paramref name="quietMs"/>) or confirmed them with no snapshot covering them
    /// yet (asked again every <see cref="UncoveredRecheckPeriods"/> quiet periods), and marks it
    /// checked at <paramref name="nowMs"/>.
    /// </summary>
    public void DueForCheck(int partitionId, long nowMs, long quietMs, List<CheckDelivery> due)
    {
        // A walk over every stream, a few times a minute: cheaper than keeping a set of the
        // unconfirmed ones up to date on every slice.
        var uncoveredRecheckMs = quietMs * UncoveredRecheckPeriods;
        foreach (var (sensorId, _) in _sent)
        {
            ref var sent = ref CollectionsMarshal.GetValueRefOrNullRef(_sent, sensorId);
            if (sent.HandedThrough < 0)
            {
                continue;
            }

            // Quiet since both the last slice and the last check: one period for an unconfirmed
            // stream, several for a confirmed one that no snapshot covers (looked up only then).
            var quietForMs = nowMs - Math.Max(sent.DeliveredAtMs, sent.CheckedAtMs);
            var ask = sent.ConfirmedThrough < sent.HandedThrough
                ? quietForMs >= quietMs
                : quietForMs >= uncoveredRecheckMs && _behind.ContainsKey(sensorId);
            if (!ask)
            {
                continue;
            }

            sent.CheckedAtMs = nowMs;
            due.Add(new CheckDelivery(sensorId, partitionId, sent.HandedThrough));
        }
    }

    /// <summary>The oldest offset some stream still needs, or <paramref name="ifNone"/> when every stream is covered.</summary>
    public long OldestNeeded(long ifNone)
    {
        var oldest = ifNone;
        foreach (var uncovered in _behind.Values)
        {
            oldest = Math.Min(oldest, uncovered.NeededFrom);
        }

        return oldest;
    }

    private struct Uncovered
    {
        public long NeededFrom;
        public long LastDelivered;
    }

    private struct Sent
    {
        // The last offset assigned to the stream, and the last one actually sent to it.
        public long LastOffset;
        public long HandedThrough;
        public long ConfirmedThrough;
        public long DeliveredAtMs;
        public long CheckedAtMs;
    }
}
