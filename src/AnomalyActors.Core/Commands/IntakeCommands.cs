using AnomalyActors.Core.Protocol;

namespace AnomalyActors.Core.Commands;

/// <summary>
/// A batch from an ingestion source. (SourceId, SourceSeq) makes a resend of the batch idempotent:
/// partitions remember the highest sequence they stored per source. <paramref name="Deliveries"/>,
/// when the source has them, name the message behind each reading, so that a message the source
/// delivers again (an MQTT redelivery after a crash) is stored once.
/// </summary>
public sealed record IngestReadings(string SourceId, long SourceSeq, Reading[] Readings, DeliveryLog? Deliveries = null) : IAnomalyActorsMessage;

/// <summary>Reply to <see cref="IngestReadings"/> once every reading in it is durable in the intake log.</summary>
public sealed record ReadingsAccepted(string SourceId, long SourceSeq, int Count) : IAnomalyActorsMessage;

/// <summary>Reply to <see cref="IngestReadings"/> when the intake could not make the batch durable.</summary>
public sealed record ReadingsRejected(string SourceId, long SourceSeq, string Reason) : IAnomalyActorsMessage;

/// <summary>
/// Appends one partition's share of a source batch to that partition's log. The partition groups
/// the readings into a chunk itself, so that work runs in parallel across partitions.
/// <paramref name="Deliveries"/> covers exactly this share's readings.
/// </summary>
public sealed record AppendChunk(int PartitionId, string SourceId, long SourceSeq, Reading[] Readings, DeliveryLog? Deliveries = null) : IWithPartitionId;

/// <summary>Reply to <see cref="AppendChunk"/>: durable (or already stored earlier, a duplicate).</summary>
public sealed record ChunkAppended(int PartitionId, string SourceId, long SourceSeq, bool Duplicate) : IAnomalyActorsMessage;

/// <summary>Reply to <see cref="AppendChunk"/> when the journal write failed.</summary>
public sealed record ChunkAppendFailed(int PartitionId, string SourceId, long SourceSeq, string Reason) : IAnomalyActorsMessage;

/// <summary>
/// A sensor's snapshot now covers every reading of the partition up to <paramref name="Offset"/>;
/// the partition may drop chunks nobody needs any more.
/// </summary>
public sealed record ReportCheckpoint(int PartitionId, string SensorId, long Offset) : IWithPartitionId;

/// <summary>
/// Answer to <see cref="CheckDelivery"/>: the stream has applied the partition's readings up to
/// <paramref name="Offset"/>, so the partition stops asking until it sends the stream more.
/// </summary>
public sealed record DeliveryConfirmed(int PartitionId, string SensorId, long Offset) : IWithPartitionId;

/// <summary>
/// A sensor lost part of its slices (e.g. it failed while they were in its mailbox): the partition
/// re-sends that stream's readings from <paramref name="FromOffset"/> out of its journal, then
/// <see cref="RedeliveryCompleted"/>.
/// </summary>
public sealed record RedeliverReadings(int PartitionId, string SensorId, long FromOffset) : IWithPartitionId;

/// <summary>Asks a partition to delete the chunks every sensor has snapshotted past.</summary>
public sealed record TrimIntake(int PartitionId) : IWithPartitionId;

