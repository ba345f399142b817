using AnomalyActors.Core.Commands;
using AnomalyActors.Core.State;

namespace AnomalyActors.Node.Kafka;

// Node-local messages of the Kafka paths: a sensor and the results publisher of its own node talk
// with these, so they never cross the network and need no serializer entry.

/// <summary>A sensor's scored readings for the enriched topic; answered with <see cref="EnrichedWritten"/>.</summary>
public sealed record PublishScored(string SensorId, ScoredReading[] Readings);

/// <summary>Every record of one <see cref="PublishScored"/> is delivered.</summary>
public sealed record EnrichedWritten(string SensorId, int Count);

/// <summary>
/// Readings of a stream that arrived on another partition than the one its state counts offsets
/// in: not applied (offsets of two partitions cannot be ordered), dead-lettered instead.
/// </summary>
public sealed record ForeignReadings(ScoreReadings Slice, int BoundPartition);
