namespace AnomalyActors.Core.State;

/// <summary>
/// A SensorActor's snapshot: its detector and episode state after applying every reading of
/// partition <paramref name="PartitionId"/> up to <paramref name="Offset"/> inclusive.
/// </summary>
public sealed record SensorSnapshot(
    int PartitionId,
    long Offset,
    long ReadingsScored,
    long ReadingsRejected,
    string DetectorFingerprint,
    byte[] DetectorState,
    EpisodeTrackerState Episodes) : Protocol.IAnomalyActorsMessage;
