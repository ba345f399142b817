namespace AnomalyActors.Core.Protocol;

/// <summary>
/// Maps a stream key to its intake partition. It must be stable across processes and releases
/// (string.GetHashCode is randomised per process), because a sensor's snapshot records offsets of
/// exactly one partition's log.
/// </summary>
public static class Partitioner
{
    public static int PartitionOf(string streamKey, int partitionCount)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(partitionCount, 1);
        // FNV-1a over UTF-16 code units: cheap, stable and well spread for short keys.
        var hash = 2166136261u;
        foreach (var c in streamKey)
        {
            hash = (hash ^ c) * 16777619u;
        }

        return (int)(hash % (uint)partitionCount);
    }
}
