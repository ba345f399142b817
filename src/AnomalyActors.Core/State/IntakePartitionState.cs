using AnomalyActors.Core.Commands;
using AnomalyActors.Core.Events;
using AnomalyActors.Core.Protocol;

namespace AnomalyActors.Core.State;

/// <summary>
/// One intake partition: an append-only log of reading chunks. It decides whether an append is a
/// duplicate (a batch its source sent again, or messages their source delivered again), assigns
/// offsets, and tracks, per sensor, the oldest offset that sensor has not yet covered by a snapshot,
/// which tells how much of the log may be deleted.
/// </summary>
public sealed class IntakePartitionState
{
    private readonly Dictionary<string, SourceMark> _sources = new(StringComparer.Ordinal);
    private readonly DeliveryTracker _deliveries = new();
    private readonly DeliveryTable _stored = new();
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

    /// <summary>Keys of stored messages that may still be delivered again (see <see cref="DeliveryTable"/>).</summary>
    public DeliveryTable StoredDeliveries => _stored;

    /// <summary>Readings left out because their message was delivered again after it was stored (this incarnation).</summary>
    public long RedeliveredReadingsSkipped { get; private set; }

    /// <summary>
    /// Readings of messages marked as resent whose key was not stored, so they were stored now: the
    /// ones the node never made durable before (this incarnation).
    /// </summary>
    public long ResentReadingsStored { get; private set; }

    /// <summary>
    /// The chunk to store, or null when there is nothing new: the source already stored this batch (a
    /// resend after a crash), or every message in it was a redelivery of one already stored.
    /// </summary>
    public ChunkStored? Process(AppendChunk command)
    {
        var known = _sources.TryGetValue(command.SourceId, out var stored);
        if (known && stored.Holds(command.SourceSeq))
        {
            return null;
        }

        var readings = command.Readings;
        ChunkDeliveries? keys = null;
        if (command.Deliveries is { } deliveries)
        {
            (readings, keys) = WithoutRedeliveries(command.Readings, deliveries);
            if (readings.Length == 0)
            {
                return null;
            }
        }

        var marks = new SourceMark[_sources.Count + (known ? 0 : 1)];
        var i = 0;
        foreach (var (source, mark) in _sources)
        {
            marks[i++] = source == command.SourceId ? mark.With(command.SourceSeq) : mark;
        }

        if (!known)
        {
            marks[i] = SourceMark.First(command.SourceId, command.SourceSeq);
        }

        return new ChunkStored(PartitionId, NextOffset, ReadingChunk.FromReadings(readings), marks, keys);
    }

    /// <summary>
    /// Drops the readings of messages marked as resent whose key is stored already (or earlier in
    /// this batch); returns the rest with the keys of the messages they came from.
    /// </summary>
    private (Reading[] Readings, ChunkDeliveries? Keys) WithoutRedeliveries(Reading[] readings, DeliveryLog log)
    {
        if (log.ReadingCount != readings.Length)
        {
            throw new ArgumentException($"The delivery log covers {log.ReadingCount} readings, the batch has {readings.Length}.", nameof(log));
        }

        List<Reading>? kept = null;
        var keys = new List<DeliveryKey>(log.Items.Length);
        var windows = new List<int>(log.Items.Length);
        HashSet<DeliveryKey>? inBatch = null;
        var at = 0;
        foreach (var delivery in log.Items)
        {
            var key = delivery.Key;
            var keyed = key.Session is not null;
            var skip = false;
            if (keyed && delivery.Resent)
            {
                inBatch ??= new HashSet<DeliveryKey>(keys);
                skip = _stored.Contains(key) || inBatch.Contains(key);
            }

            if (skip)
            {
                kept ??= new List<Reading>(readings.AsSpan(0, at).ToArray());
                RedeliveredReadingsSkipped += delivery.ReadingCount;
            }
            else
            {
                if (keyed && delivery.Resent)
                {
                    ResentReadingsStored += delivery.ReadingCount;
                }

                if (keyed)
                {
                    keys.Add(key);
                    windows.Add(delivery.Window);
                    inBatch?.Add(key);
                }

                kept?.AddRange(readings.AsSpan(at, delivery.ReadingCount));
            }

            at += delivery.ReadingCount;
        }

        return (kept?.ToArray() ?? readings, keys.Count == 0 ? null : new ChunkDeliveries(keys.ToArray(), windows.ToArray()));
    }

    /// <summary>
    /// Records a stored chunk (or one being written). Returns, per group of the chunk, the offset of
    /// that stream's previous reading in this partition (-1 when it is older than what this partition
    /// has seen). Its readings count as sent once <see cref="Handed"/> says so.
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
            _sources[mark.SourceId] = mark;
        }

        _retained.Enqueue(new RetainedChunk(sequenceNr, stored.FirstOffset, stored.NextOffset));
        if (stored.Deliveries is { } deliveries)
        {
            _stored.Record(deliveries);
        }

        var chunk = stored.Chunk;
        var previous = new long[chunk.Keys.Length];
        for (var g = 0; g < chunk.Keys.Length; g++)
        {
            previous[g] = _deliveries.Delivered(chunk.Keys[g], chunk.FirstOffsetOf(g, stored.FirstOffset), chunk.LastOffsetOf(g, stored.FirstOffset));
        }

        return previous;
    }

    /// <summary>The chunk's readings went out to their streams at <paramref name="nowMs"/>: from now on a stream that does not confirm them is asked.</summary>
    public void Handed(ChunkStored stored, long nowMs)
    {
        var chunk = stored.Chunk;
        for (var g = 0; g < chunk.Keys.Length; g++)
        {
            _deliveries.Handed(chunk.Keys[g], chunk.LastOffsetOf(g, stored.FirstOffset), nowMs);
        }
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

    /// <summary>The stream has applied its readings up to <paramref name="offset"/>.</summary>
    public void Confirmed(string sensorId, long offset) => _deliveries.Confirmed(sensorId, offset);

    /// <summary>
    /// Streams quiet for <paramref name="quietMs"/> that have not confirmed their latest readings, or
    /// (less often) whose confirmed readings no snapshot covers yet: ask them.
    /// </summary>
    public void DueForCheck(long nowMs, long quietMs, List<CheckDelivery> due) =>
        _deliveries.DueForCheck(PartitionId, nowMs, quietMs, due);

    /// <summary>
    /// The journal sequence number up to which chunks may be deleted: every sensor has snapshotted
    /// past them, and the message keys they carry are saved elsewhere (in a copy of the table taken
    /// at <paramref name="deliveryKeysSavedThrough"/>) unless no key is held at all. The newest chunk
    /// is always kept, because it carries the next offset and the source de-duplication table.
    /// Returns 0 when nothing may go.
    /// </summary>
    public long DeletableThrough(long deliveryKeysSavedThrough = long.MaxValue)
    {
        var neededFrom = _deliveries.OldestNeeded(NextOffset);
        var keysAllow = _stored.Count == 0 ? long.MaxValue : deliveryKeysSavedThrough;

        long through = 0;
        var index = 0;
        foreach (var chunk in _retained)
        {
            if (index++ == _retained.Count - 1 || chunk.NextOffset > neededFrom || chunk.SequenceNr > keysAllow)
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
