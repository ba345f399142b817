using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace AnomalyActors.Core.State;

/// <summary>
/// What a log partition (our own intake journal or an external log such as a Kafka partition) has
/// handed to each stream: the last offset delivered since start-up, for gap detection, and the oldest
/// offset no snapshot of the stream covers yet, which bounds what may be deleted or committed.
/// </summary>
internal sealed class DeliveryTracker
{
    private readonly Dictionary<string, Uncovered> _behind = new(StringComparer.Ordinal);

    // Kept after a checkpoint (unlike _behind): the next slice still needs its previous offset.
    private readonly Dictionary<string, long> _lastOffset = new(StringComparer.Ordinal);

    /// <summary>Streams with delivered readings that no snapshot of theirs covers yet.</summary>
    public int StreamsBehind => _behind.Count;

    /// <summary>
    /// Records the readings [<paramref name="firstOffset"/>, <paramref name="lastOffset"/>] as
    /// delivered to the stream; returns the offset of its previous delivered reading (-1 when none
    /// since start-up: its snapshot covers whatever came before).
    /// </summary>
    public long Delivered(string sensorId, long firstOffset, long lastOffset)
    {
        ref var last = ref CollectionsMarshal.GetValueRefOrAddDefault(_lastOffset, sensorId, out var seen);
        var previous = seen ? last : -1;
        last = lastOffset;

        ref var uncovered = ref CollectionsMarshal.GetValueRefOrAddDefault(_behind, sensorId, out var exists);
        if (!exists)
        {
            uncovered.NeededFrom = firstOffset;
        }

        uncovered.LastDelivered = lastOffset;
        return previous;
    }

    /// <summary>A stream's snapshot covers its readings up to <paramref name="offset"/>.</summary>
    public void Checkpoint(string sensorId, long offset)
    {
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
}
