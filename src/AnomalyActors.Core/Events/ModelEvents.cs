using AnomalyActors.Core.Protocol;
using AnomalyActors.Detection;

namespace AnomalyActors.Core.Events;

/// <summary>
/// A stream took a global model version: from the reading after <paramref name="AfterOffset"/> on,
/// its detectors start from <paramref name="Prior"/> (<see cref="DetectorPrior.None"/> when the model
/// knows nothing of the stream's type) and its records carry <paramref name="Version"/>. Journaled,
/// so that a recovery re-applying the log switches at the same reading.
/// </summary>
public sealed record ModelAdopted(string SensorId, long AfterOffset, string Version, DetectorPrior Prior) : IWithSensorId;
