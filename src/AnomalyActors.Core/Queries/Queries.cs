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
