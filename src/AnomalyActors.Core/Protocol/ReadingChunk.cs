using AnomalyActors.Core.Commands;

namespace AnomalyActors.Core.Protocol;

/// <summary>
/// A block of readings of one log partition, grouped by stream (each stream's readings keep their
/// arrival order). Grouping gives each stream its slice of the block as one message. Offsets are
/// implied by position for the node's own intake log (the chunk's first offset plus the index), or
/// explicit per reading for an external log such as a Kafka partition, where streams interleave.
/// Treated as immutable once built.
/// </summary>
public sealed class ReadingChunk
{
    public ReadingChunk(string[] keys, int[] groupStarts, long[] timestamps, double[] values, long[]? offsets = null)
    {
        ArgumentNullException.ThrowIfNull(keys);
        ArgumentNullException.ThrowIfNull(groupStarts);
        ArgumentNullException.ThrowIfNull(timestamps);
        ArgumentNullException.ThrowIfNull(values);
        if (groupStarts.Length != keys.Length + 1 || timestamps.Length != values.Length
            || groupStarts[0] != 0 || groupStarts[^1] != values.Length
            || (offsets is not null && offsets.Length != values.Length))
        {
            throw new ArgumentException("Chunk arrays are inconsistent.");
        }

        Keys = keys;
        GroupStarts = groupStarts;
        Timestamps = timestamps;
        Values = values;
        Offsets = offsets;
    }

    public string[] Keys { get; }

    /// <summary>Group g spans [GroupStarts[g], GroupStarts[g + 1]).</summary>
    public int[] GroupStarts { get; }

    public long[] Timestamps { get; }
    public double[] Values { get; }

    /// <summary>Explicit offsets (an external log), null when offsets are implied by position.</summary>
    public long[]? Offsets { get; }

    public int Count => Values.Length;

    public static ReadingChunk Empty { get; } = new([], [0], [], []);

    /// <summary>Groups <paramref name="readings"/> (already filtered to one partition) by stream.</summary>
    public static ReadingChunk FromReadings(IReadOnlyList<Reading> readings)
    {
        var builder = new ChunkBuilder();
        for (var i = 0; i < readings.Count; i++)
        {
            builder.Add(readings[i]);
        }

        return builder.Build();
    }

    /// <summary>Offset of the first reading of group <paramref name="group"/>; <paramref name="chunkFirstOffset"/> is unused for explicit offsets.</summary>
    public long FirstOffsetOf(int group, long chunkFirstOffset) =>
        Offsets is null ? chunkFirstOffset + GroupStarts[group] : Offsets[GroupStarts[group]];

    public long LastOffsetOf(int group, long chunkFirstOffset) =>
        Offsets is null ? chunkFirstOffset + GroupStarts[group + 1] - 1 : Offsets[GroupStarts[group + 1] - 1];

    /// <summary>
    /// The slice of group <paramref name="group"/> for its stream's sensor. Its memory is shared
    /// with the chunk.
    /// </summary>
    /// <param name="previousOffset">Offset of the stream's reading before the slice, -1 when unknown.</param>
    public ScoreReadings Slice(int group, int partitionId, long chunkFirstOffset, long previousOffset, bool replay)
    {
        var start = GroupStarts[group];
        var length = GroupStarts[group + 1] - start;
        return new ScoreReadings(
            Keys[group],
            partitionId,
            FirstOffsetOf(group, chunkFirstOffset),
            previousOffset,
            Timestamps.AsMemory(start, length),
            Values.AsMemory(start, length),
            replay,
            Offsets is null ? default : Offsets.AsMemory(start, length));
    }
}

/// <summary>
/// Builds <see cref="ReadingChunk"/>s: readings go in in arrival order, come out grouped by stream.
/// The one grouping step of every log (the intake's appends, a Kafka partition's batches, its
/// re-deliveries). Keeps its buffers between chunks; not thread-safe.
/// </summary>
public sealed class ChunkBuilder
{
    private readonly Dictionary<string, int> _groupOf = new(StringComparer.Ordinal);
    private readonly List<string> _keys = [];
    private int[] _counts = new int[16];
    private int[] _group = new int[64];
    private long[] _timestamps = new long[64];
    private double[] _values = new double[64];
    private long[] _offsets = new long[64];
    private bool _explicitOffsets;

    /// <summary>Readings added since the last <see cref="Build"/>.</summary>
    public int Count { get; private set; }

    public void Add(in Reading reading) => Add(reading.StreamKey, reading.TimestampMs, reading.Value);

    /// <summary>A reading whose offset follows from its position in the chunk.</summary>
    public void Add(string streamKey, long timestampMs, double value)
    {
        if (_explicitOffsets)
        {
            throw new InvalidOperationException("A chunk's offsets are either all explicit or all implied.");
        }

        Append(streamKey, timestampMs, value);
    }

    /// <summary>A reading with its own offset (strictly increasing within a stream).</summary>
    public void Add(string streamKey, long timestampMs, double value, long offset)
    {
        if (Count > 0 && !_explicitOffsets)
        {
            throw new InvalidOperationException("A chunk's offsets are either all explicit or all implied.");
        }

        _explicitOffsets = true;
        var at = Append(streamKey, timestampMs, value);
        _offsets[at] = offset;
    }

    /// <summary>The readings added so far, grouped; the builder is empty afterwards.</summary>
    public ReadingChunk Build()
    {
        var groups = _keys.Count;
        var starts = new int[groups + 1];
        for (var g = 0; g < groups; g++)
        {
            starts[g + 1] = starts[g] + _counts[g];
        }

        var cursor = _counts;
        Array.Copy(starts, cursor, groups);
        var timestamps = new long[Count];
        var values = new double[Count];
        var offsets = _explicitOffsets ? new long[Count] : null;
        for (var i = 0; i < Count; i++)
        {
            var at = cursor[_group[i]]++;
            timestamps[at] = _timestamps[i];
            values[at] = _values[i];
            if (offsets is not null)
            {
                offsets[at] = _offsets[i];
            }
        }

        var chunk = new ReadingChunk(_keys.ToArray(), starts, timestamps, values, offsets);
        _groupOf.Clear();
        _keys.Clear();
        Array.Clear(_counts, 0, groups);
        Count = 0;
        _explicitOffsets = false;
        return chunk;
    }

    private int Append(string streamKey, long timestampMs, double value)
    {
        if (!_groupOf.TryGetValue(streamKey, out var group))
        {
            group = _keys.Count;
            _groupOf.Add(streamKey, group);
            _keys.Add(streamKey);
            if (group == _counts.Length)
            {
                Array.Resize(ref _counts, group * 2);
            }
        }

        var i = Count++;
        if (i == _group.Length)
        {
            var size = i * 2;
            Array.Resize(ref _group, size);
            Array.Resize(ref _timestamps, size);
            Array.Resize(ref _values, size);
            Array.Resize(ref _offsets, size);
        }

        _group[i] = group;
        _counts[group]++;
        _timestamps[i] = timestampMs;
        _values[i] = value;
        return i;
    }
}
