using AnomalyActors.Core.Commands;
using AnomalyActors.Core.State;

namespace AnomalyActors.Core.Results;

// What a sensor sends to the results sink of its node (the alerts file and console, or the site's
// Kafka topics): episode transitions (IEpisodeEvent, answered with AlertWritten once written), its
// scored readings and the readings it refused. Sink and sensors are always on the same node, so
// these never cross the network and need no serializer entry.

/// <summary>A sensor's scored readings for the enriched output; answered with <see cref="EnrichedWritten"/>.</summary>
/// <param name="Detector">What scored them (<see cref="DetectorSet.Version"/>).</param>
public sealed record PublishScored(string SensorId, string Detector, ScoredReading[] Readings);

/// <summary>Every record of one <see cref="PublishScored"/> is written.</summary>
public sealed record EnrichedWritten(string SensorId, int Count);

/// <summary>
/// An alert the node's results sink has written (file and console, or its topic): published on the
/// actor system's event stream for watchers in the same process, such as the dashboard. Repeats
/// after a crash carry the same alert id.
/// </summary>
public sealed record AlertDelivered(Events.IEpisodeEvent Alert);

/// <summary>
/// An operator acknowledged an alert on one member's dashboard: sent to every other member's
/// dashboard, which records it too.
/// </summary>
public sealed record AlertAcknowledged(string AlertId, string By, long AtMs) : Protocol.IAnomalyActorsMessage;

/// <summary>
/// One member's dashboard feed greets another's (<paramref name="Answer"/> false) or answers a
/// greeting: from then on each sends the other its alerts and acknowledgements.
/// </summary>
public sealed record DashboardGreeting(bool Answer) : Protocol.IAnomalyActorsMessage;

/// <summary>
/// A member's dashboard shows a stream's page: the member whose sensor scores the stream sends it
/// the readings it keeps and every new one. Sent again while the page stays watched.
/// </summary>
public sealed record WatchSeries(string SensorId) : Protocol.IAnomalyActorsMessage;

/// <summary>A stream's scored readings, for another member's dashboard that watches it.</summary>
public sealed record SeriesPoints(string SensorId, ScoredReading[] Points) : Protocol.IAnomalyActorsMessage;

/// <summary>
/// Readings of a stream that arrived on another partition than the one its state counts offsets
/// in: not applied (offsets of two partitions cannot be ordered), dead-lettered by the sink instead.
/// </summary>
public sealed record RefusedReadings(ScoreReadings Slice, int BoundPartition);

/// <summary>
/// Where a node keeps results for the archive when no Kafka topic does: an append-only log on its
/// own disk. Sensors record their scored readings straight into it (no message per slice) and make
/// sure what they recorded is with the operating system before a snapshot covers it; the results
/// sink records alerts and flushes before it confirms them.
/// </summary>
public interface IResultsArchive
{
    /// <summary>Appends a stream's scored readings; returns the position to pass to <see cref="EnsureDurable"/>. Any thread.</summary>
    long Record(string sensorId, string detector, IReadOnlyList<ScoredReading> readings);

    /// <summary>Returns once every record up to <paramref name="position"/> survives the process (not a power cut). Any thread.</summary>
    void EnsureDurable(long position);

    /// <summary>Appends an alert (the results sink only).</summary>
    void Record(Events.IEpisodeEvent alert);

    /// <summary>Makes everything recorded so far survive the process.</summary>
    void Flush();
}

/// <summary>
/// Where a node's dashboard follows chosen streams' scored readings live (value, prediction, band).
/// A sensor asks <see cref="IsWatched"/> once per slice and scores without collecting its readings
/// when nobody watches, so an unwatched stream pays one lookup per slice.
/// </summary>
public interface IScoredReadingsTap
{
    /// <summary>Whether the stream's scored readings are wanted now. Any thread.</summary>
    bool IsWatched(string sensorId);

    /// <summary>A watched stream's newly scored readings, in order; copied before it returns. Any thread.</summary>
    void Record(string sensorId, IReadOnlyList<ScoredReading> readings);
}
