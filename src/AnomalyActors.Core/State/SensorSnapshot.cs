namespace AnomalyActors.Core.State;

/// <summary>
/// A SensorActor's snapshot: its detector and episode state after applying every reading of
/// partition <paramref name="PartitionId"/> up to <paramref name="Offset"/> inclusive.
/// </summary>
/// <param name="ModelVersion">The global model in use ("" without one); its prior is in the detector state.</param>
/// <param name="PendingModels">Adoptions journaled for readings after <paramref name="Offset"/> (a snapshot during a re-delivery).</param>
public sealed record SensorSnapshot(
    int PartitionId,
    long Offset,
    long ReadingsScored,
    long ReadingsRejected,
    string DetectorFingerprint,
    byte[] DetectorState,
    EpisodeTrackerState Episodes,
    string ModelVersion,
    IReadOnlyList<Events.ModelAdopted> PendingModels) : Protocol.IAnomalyActorsMessage;
