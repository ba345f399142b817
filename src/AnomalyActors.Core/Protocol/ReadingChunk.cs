namespace AnomalyActors.Core.Protocol;

/// <summary>
/// A block of readings of one intake partition, grouped by stream (each stream's readings keep
/// their arrival order). Grouping makes a stream's offsets contiguous, so a sensor receives its
/// slice of a chunk as one message and one first offset. Treated as immutable once built.
/// </summary>
public sealed class ReadingChunk
{
    public ReadingChunk(string[] keys, int[] groupStarts, long[] timestamps, double[] values)
    {
        ArgumentNullException.ThrowIfNull(keys);
        ArgumentNullException.ThrowIfNull(groupStarts);
        ArgumentNullException.ThrowIfNull(timestamps);
        ArgumentNullException.ThrowIfNull(values);
        if (groupStarts.Length != keys.Length + 1 || timestamps.Length != values.Length
            || groupStarts[0] != 0 || groupStarts[^1] != values.Length)
        {
            throw new ArgumentException("Chunk arrays are inconsistent.");
        }

        Keys = keys;
        GroupStarts = groupStarts;
        Timestamps = timestamps;
        Values = values;
    }

    public string[] Keys { get; }

    /// <summary>Group g spans [GroupStarts[g], GroupStarts[g + 1]).</summary>
    public int[] GroupStarts { get; }

    public long[] Timestamps { get; }
    public double[] Values { get; }
    public int Count => Values.Length;

    public static ReadingChunk Empty { get; } = new([], [0], [], []);

    /// <summary>Groups <paramref name="readings"/> (already filtered to one partition) by stream.</summary>
    public static ReadingChunk FromReadings(IReadOnlyList<Reading> readings)
    {
        var groupOf = new Dictionary<string, int>(StringComparer.Ordinal);
        var counts = new List<int>();
        var keys = new List<string>();
        var group = new int[readings.Count];
        for (var i = 0; i < readings.Count; i++)
        {
            var key = readings[i].StreamKey;
            if (!groupOf.TryGetValue(key, out var g))
            {
                g = keys.Count;
                groupOf.Add(key, g);
                keys.Add(key);
                counts.Add(0);
            }

            group[i] = g;
            counts[g]++;
        }

        var starts = new int[keys.Count + 1];
        for (var g = 0; g < keys.Count; g++)
        {
            starts[g + 1] = starts[g] + counts[g];
        }

        var cursor = starts[..^1];
        var timestamps = new long[readings.Count];
        var values = new double[readings.Count];
        for (var i = 0; i < readings.Count; i++)
        {
            var at = cursor[group[i]]++;
            timestamps[at] = readings[i].TimestampMs;
            values[at] = readings[i].Value;
        }

        return new ReadingChunk(keys.ToArray(), starts, timestamps, values);
    }
}
