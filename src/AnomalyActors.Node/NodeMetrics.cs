using System.Diagnostics.Metrics;
using AnomalyActors.Core.Events;

namespace AnomalyActors.Node;

/// <summary>
/// Process-wide counters of one node, updated lock-free by the actors and read by the host,
/// benchmarks and (later) metrics exporters.
/// </summary>
public sealed class NodeMetrics
{
    /// <summary>Buckets of the storage timings, in seconds: a fast local disk to a stalled database.</summary>
    private static readonly double[] StorageBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    private readonly Histogram<double> _snapshotSeconds;
    private readonly Histogram<double> _journalSeconds;

    public NodeMetrics()
    {
        _snapshotSeconds = Meter.CreateHistogram<double>("anomaly_actors_snapshot_save_seconds", "s",
            "Seconds from a sensor's snapshot request to the store's confirmation.", advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = StorageBuckets });
        _journalSeconds = Meter.CreateHistogram<double>("anomaly_actors_journal_write_seconds", "s",
            "Seconds from an intake partition's write of a chunk of readings to the journal's confirmation (writes pipeline, so it includes waiting behind earlier ones).",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = StorageBuckets });
    }

    /// <summary>The timings the actors record, as instruments; counters above are read by whoever exports them.</summary>
    public Meter Meter { get; } = new("AnomalyActors.Node");

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
    private long _modelAdoptions;

    public long ReadingsScored => Volatile.Read(ref _readingsScored);
    public long ReadingsRejected => Volatile.Read(ref _readingsRejected);
    public long ReadingsDurable => Volatile.Read(ref _readingsDurable);
    public long ChunksStored => Volatile.Read(ref _chunksStored);
    public long EpisodesOpened => Volatile.Read(ref _episodesOpened);
    public long EpisodesClosed => Volatile.Read(ref _episodesClosed);
    public long SnapshotsSaved => Volatile.Read(ref _snapshotsSaved);

    /// <summary>Streams that took a global model version (each stream once per version).</summary>
    public long ModelAdoptions => Volatile.Read(ref _modelAdoptions);

    /// <summary>Lines of the alerts file, those of earlier runs included.</summary>
    public long AlertLines => Volatile.Read(ref _alertLines);

    /// <summary>Readings not stored again because their message was redelivered after it was stored.</summary>
    public long RedeliveredReadingsSkipped => Volatile.Read(ref _redeliveriesSkipped);

    /// <summary>Readings of messages their source resent that had not been stored before, so were stored now.</summary>
    public long ResentReadingsStored => Volatile.Read(ref _resentStored);

    /// <summary>Readings a sensor refused because they came from another partition than its stream's.</summary>
    public long ReadingsRefused => Volatile.Read(ref _readingsRefused);

    internal void ModelAdopted() => Interlocked.Increment(ref _modelAdoptions);

    internal void Scored(long scored, long rejected)
    {
        Interlocked.Add(ref _readingsScored, scored);
        if (rejected != 0)
        {
            Interlocked.Add(ref _readingsRejected, rejected);
        }
    }

    internal void ChunkStored(int readings, TimeSpan written)
    {
        _journalSeconds.Record(written.TotalSeconds);
        ChunkStored(readings);
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

    internal void SnapshotSaved(TimeSpan took)
    {
        _snapshotSeconds.Record(took.TotalSeconds);
        Interlocked.Increment(ref _snapshotsSaved);
    }

    internal void Refused(int readings) => Interlocked.Add(ref _readingsRefused, readings);

    internal void AlertLinesFound(long lines) => Interlocked.Add(ref _alertLines, lines);

    internal void AlertLineWritten() => Interlocked.Increment(ref _alertLines);
}
