using AnomalyActors.Core.Protocol;

namespace AnomalyActors.Core.Events;

/// <summary>Events a SensorActor persists: its anomaly episode decisions.</summary>
public interface IEpisodeEvent : IWithSensorId
{
    long Episode { get; }

    /// <summary>Partition offset of the reading that caused the transition.</summary>
    long Offset { get; }

    /// <summary>Stable across replays: a consumer can recognise a repeated alert by it.</summary>
    string AlertId { get; }

    /// <summary>The global model version the stream used when it decided this; "" without one.</summary>
    string Model { get; }
}

public static class AlertIds
{
    public static string For(string sensorId, long episode) => string.Concat(sensorId, "#", episode.ToString(System.Globalization.CultureInfo.InvariantCulture));
}

/// <summary>An episode opened on the first out-of-band reading.</summary>
public sealed record EpisodeOpened(string SensorId, long Episode, long Offset, long TimestampMs, double Value, double Grade, string Model = "")
    : IEpisodeEvent
{
    public string AlertId => AlertIds.For(SensorId, Episode);
}

/// <summary>An episode closed after the configured run of consecutive in-band readings.</summary>
public sealed record EpisodeClosed(
    string SensorId,
    long Episode,
    long Offset,
    long TimestampMs,
    long OutOfBandReadings,
    double PeakGrade,
    string Model = "") : IEpisodeEvent
{
    public string AlertId => AlertIds.For(SensorId, Episode);
}
