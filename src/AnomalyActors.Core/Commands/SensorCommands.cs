using AnomalyActors.Core.Protocol;

namespace AnomalyActors.Core.Commands;

/// <summary>
/// A contiguous slice of one partition's log that belongs to one stream: reading i sits at offset
/// <paramref name="FirstOffset"/> + i. The memory is shared with the stored chunk and never mutated.
/// </summary>
/// <param name="PreviousOffset">
/// Offset of this stream's reading just before the slice, or -1 when the partition does not know it
/// (the reading lies in a trimmed part of the log, which the sensor's snapshot covers). A sensor
/// whose state has not reached it has lost a slice and must not apply this one.
/// </param>
/// <param name="Replay">Sent by a re-delivery from the journal, not by the live log.</param>
/// <param name="Offsets">
/// Empty for the intake log, whose slices are contiguous. An external log (a Kafka partition)
/// interleaves streams, so there every reading carries its own, strictly increasing offset and
/// <paramref name="FirstOffset"/> equals the first of them.
/// </param>
public sealed record ScoreReadings(
    string SensorId,
    int PartitionId,
    long FirstOffset,
    long PreviousOffset,
    ReadOnlyMemory<long> Timestamps,
    ReadOnlyMemory<double> Values,
    bool Replay = false,
    ReadOnlyMemory<long> Offsets = default) : IWithSensorId
{
    /// <summary>Offset of the slice's last reading.</summary>
    public long LastOffset => Offsets.IsEmpty ? FirstOffset + Values.Length - 1 : Offsets.Span[^1];

    /// <summary>Offset of reading <paramref name="index"/> of the slice.</summary>
    public long OffsetAt(int index) => Offsets.IsEmpty ? FirstOffset + index : Offsets.Span[index];
}

/// <summary>
/// A log partition asks a stream that has gone quiet whether it applied everything sent to it, up to
/// <paramref name="LastOffset"/>: a slice in flight to a member that died (or dropped while its shard
/// moved) is otherwise noticed only when the stream's next slice arrives, which may be never. The
/// sensor answers <see cref="DeliveryConfirmed"/>, or finds the gap and asks for a re-delivery.
/// </summary>
public sealed record CheckDelivery(string SensorId, int PartitionId, long LastOffset) : IWithSensorId;

/// <summary>Marks the end of a re-delivery requested with <see cref="RedeliverReadings"/>.</summary>
public sealed record RedeliveryCompleted(string SensorId, int PartitionId) : IWithSensorId;

/// <summary>
/// Sharding's hand-off and passivation stop message: snapshot what is not yet covered, then stop.
/// Sent by the shard straight to the entity, so it carries no id.
/// </summary>
public sealed class PassivateSensor : IAnomalyActorsMessage
{
    public static readonly PassivateSensor Instance = new();

    private PassivateSensor()
    {
    }
}

/// <summary>
/// The alert actor has written an alert. Until then the sensor keeps its snapshot from covering the
/// episode event, so a crash before the write makes recovery send the alert again.
/// </summary>
public sealed record AlertWritten(string AlertId) : IAnomalyActorsMessage;
