using AnomalyActors.Core.Protocol;

namespace AnomalyActors.Core.Events;

/// <summary>The highest source batch sequence a partition has stored for one source.</summary>
public readonly record struct SourceMark(string SourceId, long SourceSeq);

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
