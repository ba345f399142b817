using AnomalyActors.Core.Protocol;

namespace AnomalyActors.Core.Events;

/// <summary>
/// Which batches of one source a partition has stored: the highest sequence number, and in
/// <paramref name="StoredBelow"/> bit i set when SourceSeq - 1 - i is stored too. A source keeps
/// several batches in flight, so a batch it retries (its first attempt timed out or failed) can
/// arrive after a later one was stored; a bare high-water mark would take the retry for a
/// duplicate and drop it. Batches more than <see cref="Window"/> below the highest count as stored:
/// a source never has that many in flight (its settings refuse it).
/// </summary>
public readonly record struct SourceMark(string SourceId, long SourceSeq, ulong StoredBelow = ulong.MaxValue)
{
    /// <summary>How far below the highest batch a retried one may arrive and still be told apart.</summary>
    public const int Window = 64;

    /// <summary>The first batch of a source at this partition: none below it stored.</summary>
    public static SourceMark First(string sourceId, long sourceSeq) => new(sourceId, sourceSeq, 0);

    /// <summary>True when the batch is stored (or too far below the highest to be anything but a resend).</summary>
    public bool Holds(long sourceSeq)
    {
        if (sourceSeq >= SourceSeq)
        {
            return sourceSeq == SourceSeq;
        }

        // The true distance fits an unsigned long even where the signed subtraction overflows.
        var below = unchecked((ulong)(SourceSeq - sourceSeq));
        return below > Window || (StoredBelow & (1UL << (int)(below - 1))) != 0;
    }

    /// <summary>The mark once the batch is stored as well.</summary>
    public SourceMark With(long sourceSeq)
    {
        if (sourceSeq < SourceSeq)
        {
            var below = unchecked((ulong)(SourceSeq - sourceSeq));
            return below > Window ? this : this with { StoredBelow = StoredBelow | (1UL << (int)(below - 1)) };
        }

        var shift = unchecked((ulong)(sourceSeq - SourceSeq));
        if (shift == 0)
        {
            return this;
        }

        // The old highest batch becomes bit shift - 1; C# masks shift counts, so wide moves are explicit.
        var moved = shift >= Window ? 0UL : StoredBelow << (int)shift;
        var previous = shift <= Window ? 1UL << (int)(shift - 1) : 0UL;
        return new SourceMark(SourceId, sourceSeq, moved | previous);
    }
}

/// <summary>
/// The intake's journal event: one chunk of readings at offsets [FirstOffset, FirstOffset + Count).
/// It carries the full source high-water table so that de-duplication survives the deletion of
/// older chunks, and the keys of the messages its readings came from (when the source names them),
/// stored in the same write as the readings: a message is stored exactly when its key is.
/// </summary>
public sealed record ChunkStored(int PartitionId, long FirstOffset, ReadingChunk Chunk, SourceMark[] Sources, ChunkDeliveries? Deliveries = null)
    : IWithPartitionId
{
    public long NextOffset => FirstOffset + Chunk.Count;
}
