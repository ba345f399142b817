using AnomalyActors.Core.Events;

namespace AnomalyActors.Node;

/// <summary>
/// Process-wide counters of one node, updated lock-free by the actors and read by the host,
/// benchmarks and (later) metrics exporters.
/// </summary>
public sealed class NodeMetrics
{
    private long _readingsScored;
    private long _readingsRejected;
    private long _readingsDurable;
    private long _chunksStored;
    private long _episodesOpened;
    private long _episodesClosed;
    private long _snapshotsSaved;
    private long _readingsRefused;
    private long _alertLines;
    private long _redeliveriesSkipped;
    private long _resentStored;

    public long ReadingsScored => Volatile.Read(ref _readingsScored);
    public long ReadingsRejected => Volatile.Read(ref _readingsRejected);
    public long ReadingsDurable => Volatile.Read(ref _readingsDurable);
    public long ChunksStored => Volatile.Read(ref _chunksStored);
    public long EpisodesOpened => Volatile.Read(ref _episodesOpened);
    public long EpisodesClosed => Volatile.Read(ref _episodesClosed);
    public long SnapshotsSaved => Volatile.Read(ref _snapshotsSaved);

    /// <summary>Lines of the alerts file, those of earlier runs included.</summary>
    public long AlertLines => Volatile.Read(ref _alertLines);

    /// <summary>Readings not stored again because their message was redelivered after it was stored.</summary>
    public long RedeliveredReadingsSkipped => Volatile.Read(ref _redeliveriesSkipped);

    /// <summary>Readings of messages their source resent that had not been stored before, so were stored now.</summary>
    public long ResentReadingsStored => Volatile.Read(ref _resentStored);

    /// <summary>Readings a sensor refused because they came from another partition than its stream's.</summary>
    public long ReadingsRefused => Volatile.Read(ref _readingsRefused);

    internal void Scored(long scored, long rejected)
    {
        Interlocked.Add(ref _readingsScored, scored);
        if (rejected != 0)
        {
            Interlocked.Add(ref _readingsRejected, rejected);
        }
    }

    internal void ChunkStored(int readings)
    {
        Interlocked.Increment(ref _chunksStored);
        Interlocked.Add(ref _readingsDurable, readings);
    }

    internal void Transition(IEpisodeEvent transition) =>
        Interlocked.Increment(ref transition is EpisodeOpened ? ref _episodesOpened : ref _episodesClosed);

    internal void RedeliveriesSkipped(long readings) => Interlocked.Add(ref _redeliveriesSkipped, readings);

    internal void ResentStored(long readings) => Interlocked.Add(ref _resentStored, readings);

    internal void SnapshotSaved() => Interlocked.Increment(ref _snapshotsSaved);

    internal void Refused(int readings) => Interlocked.Add(ref _readingsRefused, readings);

    internal void AlertLinesFound(long lines) => Interlocked.Add(ref _alertLines, lines);

    internal void AlertLineWritten() => Interlocked.Increment(ref _alertLines);
}
