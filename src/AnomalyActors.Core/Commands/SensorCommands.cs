using AnomalyActors.Core.Protocol;

namespace AnomalyActors.Core.Commands;

/// <summary>
/// A contiguous slice of one partition's log that belongs to one stream: reading i sits at offset
/// <paramref name="FirstOffset"/> + i. The memory is shared with the stored chunk and never mutated.
/// </summary>
public sealed record ScoreReadings(
    string SensorId,
    int PartitionId,
    long FirstOffset,
    ReadOnlyMemory<long> Timestamps,
    ReadOnlyMemory<double> Values) : IWithSensorId;

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
