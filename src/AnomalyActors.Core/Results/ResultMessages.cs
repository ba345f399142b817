using AnomalyActors.Core.Commands;
using AnomalyActors.Core.State;

namespace AnomalyActors.Core.Results;

// What a sensor sends to the results sink of its node (the alerts file and console, or the site's
// Kafka topics): episode transitions (IEpisodeEvent, answered with AlertWritten once written), its
// scored readings and the readings it refused. Sink and sensors are always on the same node, so
// these never cross the network and need no serializer entry.

/// <summary>A sensor's scored readings for the enriched output; answered with <see cref="EnrichedWritten"/>.</summary>
public sealed record PublishScored(string SensorId, ScoredReading[] Readings);

/// <summary>Every record of one <see cref="PublishScored"/> is written.</summary>
public sealed record EnrichedWritten(string SensorId, int Count);

/// <summary>
/// Readings of a stream that arrived on another partition than the one its state counts offsets
/// in: not applied (offsets of two partitions cannot be ordered), dead-lettered by the sink instead.
/// </summary>
public sealed record RefusedReadings(ScoreReadings Slice, int BoundPartition);
