using AnomalyActors.Core.Commands;
using AnomalyActors.Core.Events;
using AnomalyActors.Core.Protocol;

namespace AnomalyActors.Core.State;

/// <summary>
/// One intake partition: an append-only log of reading chunks. It decides whether an append is a
/// duplicate, assigns offsets, and tracks, per sensor, the oldest offset that sensor has not yet
/// covered by a snapshot, which tells how much of the log may be deleted.
/// </summary>
public sealed class IntakePartitionState
{
    private readonly Dictionary<string, long> _sources = new(StringComparer.Ordinal);
    private readonly DeliveryTracker _deliveries = new();
    private readonly Queue<RetainedChunk> _retained = new();

    public IntakePartitionState(int partitionId)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(partitionId);
        PartitionId = partitionId;
    }

    public int PartitionId { get; }
    public long NextOffset { get; private set; }
    public int RetainedChunks => _retained.Count;
    public long OldestRetainedOffset => _retained.Count == 0 ? NextOffset : _retained.Peek().FirstOffset;

    /// <summary>Sensors with readings in the retained log that no snapshot of theirs covers yet.</summary>
    public int SensorsBehind => _deliveries.StreamsBehind;

    /// <summary>Null when the source already stored this batch (a resend after a crash).</summary>
    public ChunkStored? Process(AppendChunk command)
    {
        if (_sources.TryGetValue(command.SourceId, out var stored) && command.SourceSeq <= stored)
        {
            return null;
        }

        var marks = new SourceMark[_sources.Count + (_sources.ContainsKey(command.SourceId) ? 0 : 1)];
        var i = 0;
        foreach (var (source, seq) in _sources)
        {
            marks[i++] = new SourceMark(source, source == command.SourceId ? command.SourceSeq : seq);
        }

        if (i < marks.Length)
        {
            marks[i] = new SourceMark(command.SourceId, command.SourceSeq);
        }

        return new ChunkStored(PartitionId, NextOffset, ReadingChunk.FromReadings(command.Readings), marks);
    }

    /// <summary>
    /// Records a stored chunk. Returns, per group of the chunk, the offset of that stream's previous
    /// reading in this partition (-1 when it is older than what this partition has seen).
    /// </summary>
    public long[] Apply(ChunkStored stored, long sequenceNr)
    {
        if (stored.FirstOffset != NextOffset && _retained.Count > 0)
        {
            throw new InvalidOperationException(
                $"Partition {PartitionId}: chunk at offset {stored.FirstOffset} does not follow {NextOffset}.");
        }

        NextOffset = stored.NextOffset;
        _sources.Clear();
        foreach (var mark in stored.Sources)
        {
            _sources[mark.SourceId] = mark.SourceSeq;
        }

        _retained.Enqueue(new RetainedChunk(sequenceNr, stored.FirstOffset, stored.NextOffset));
        var chunk = stored.Chunk;
        var previous = new long[chunk.Keys.Length];
        for (var g = 0; g < chunk.Keys.Length; g++)
        {
            previous[g] = _deliveries.Delivered(chunk.Keys[g], chunk.FirstOffsetOf(g, stored.FirstOffset), chunk.LastOffsetOf(g, stored.FirstOffset));
        }

        return previous;
    }

    /// <summary>
    /// The journal sequence number of the retained chunk holding <paramref name="offset"/> (the oldest
    /// retained one when the offset lies before it), or null when no retained chunk reaches it.
    /// </summary>
    public long? SequenceNrHolding(long offset)
    {
        foreach (var chunk in _retained)
        {
            if (offset < chunk.NextOffset)
            {
                return chunk.SequenceNr;
            }
        }

        return null;
    }

    /// <summary>A sensor's snapshot covers its readings up to <paramref name="offset"/>.</summary>
    public void Checkpoint(string sensorId, long offset) => _deliveries.Checkpoint(sensorId, offset);

    /// <summary>
    /// The journal sequence number up to which chunks may be deleted: every sensor has snapshotted
    /// past them. The newest chunk is always kept, because it carries the next offset and the
    /// source de-duplication table. Returns 0 when nothing may go.
    /// </summary>
    public long DeletableThrough()
    {
        var neededFrom = _deliveries.OldestNeeded(NextOffset);

        long through = 0;
        var index = 0;
        foreach (var chunk in _retained)
        {
            if (index++ == _retained.Count - 1 || chunk.NextOffset > neededFrom)
            {
                break;
            }

            through = chunk.SequenceNr;
        }

        return through;
    }

    public void Deleted(long throughSequenceNr)
    {
        while (_retained.Count > 0 && _retained.Peek().SequenceNr <= throughSequenceNr)
        {
            _retained.Dequeue();
        }
    }

    private readonly record struct RetainedChunk(long SequenceNr, long FirstOffset, long NextOffset);
}
