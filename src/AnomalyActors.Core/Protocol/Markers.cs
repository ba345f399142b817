namespace AnomalyActors.Core.Protocol;

/// <summary>Every message that may cross a process boundary or be persisted: bound to our serializer.</summary>
public interface IAnomalyActorsMessage;

/// <summary>Routed by cluster sharding to the SensorActor of <see cref="SensorId"/> (a stream key).</summary>
public interface IWithSensorId : IAnomalyActorsMessage
{
    string SensorId { get; }
}

/// <summary>Routed by cluster sharding to the intake partition <see cref="PartitionId"/>.</summary>
public interface IWithPartitionId : IAnomalyActorsMessage
{
    int PartitionId { get; }
}
