using AnomalyActors.Core.Protocol;

namespace AnomalyActors.Core.Queries;

public sealed record GetSensorState(string SensorId) : IWithSensorId;

/// <summary>What a sensor knows; <paramref name="DetectorState"/> is the exact serialized detector state.</summary>
public sealed record SensorStateView(
    string SensorId,
    int PartitionId,
    long Offset,
    long ReadingsScored,
    long EpisodesOpened,
    bool EpisodeOpen,
    byte[] DetectorState) : IAnomalyActorsMessage;

public sealed record GetPartitionStatus(int PartitionId) : IWithPartitionId;

public sealed record PartitionStatus(
    int PartitionId,
    long NextOffset,
    int RetainedChunks,
    long OldestRetainedOffset,
    int SensorsBehind) : IAnomalyActorsMessage;

/// <summary>Asks a member for the site's status (the <c>status</c> command sends it over remoting).</summary>
public sealed record GetSiteStatus : IAnomalyActorsMessage;

/// <param name="Address">The member's address.</param>
/// <param name="Status">Joining, Up, Leaving, Exiting, Down...; "unreachable" is added when it is.</param>
/// <param name="SensorShards">Sensor shards it hosts.</param>
/// <param name="Sensors">Sensors (running SensorActors) in them.</param>
/// <param name="IntakePartitions">Intake partitions (their actors) it hosts.</param>
public sealed record MemberView(string Address, string Status, int SensorShards, int Sensors, int IntakePartitions);

/// <param name="AnsweredBy">The member that answered.</param>
/// <param name="Members">Every member as that member sees the cluster, with what sharding placed on it.</param>
/// <param name="SensorsBehind">Streams with readings in the intake that no snapshot of theirs covers yet; this and the next two are -1 when an intake partition did not answer in time.</param>
/// <param name="ReadingsRetained">Readings the intake journal still holds for them.</param>
/// <param name="ReadingsStored">Readings the intake has made durable since the store was created.</param>
public sealed record SiteStatus(
    string AnsweredBy,
    IReadOnlyList<MemberView> Members,
    long SensorsBehind,
    long ReadingsRetained,
    long ReadingsStored) : IAnomalyActorsMessage;
