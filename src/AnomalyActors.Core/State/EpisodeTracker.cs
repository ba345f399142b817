using AnomalyActors.Core.Events;
using AnomalyActors.Detection;

namespace AnomalyActors.Core.State;

/// <summary>
/// Opens an episode on the first out-of-band reading and closes it after
/// <see cref="CloseAfterInBand"/> consecutive in-band readings (hysteresis, so a flickering
/// reading does not open a new alert each time).
/// </summary>
public sealed class EpisodeTracker
{
    public EpisodeTracker(int closeAfterInBand)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(closeAfterInBand, 1);
        CloseAfterInBand = closeAfterInBand;
    }

    public int CloseAfterInBand { get; }
    public long EpisodesOpened { get; private set; }
    public bool IsOpen { get; private set; }
    public int InBandRun { get; private set; }
    public long OutOfBandInEpisode { get; private set; }
    public double PeakGrade { get; private set; }

    /// <summary>Advances by one scored reading; returns the transition it causes, if any.</summary>
    /// <param name="model">The model version in use, which the transition carries.</param>
    public IEpisodeEvent? Step(string sensorId, long offset, long timestampMs, double value, in DetectorScore score, string model = "")
    {
        if (score.OutOfBand)
        {
            InBandRun = 0;
            if (!IsOpen)
            {
                IsOpen = true;
                EpisodesOpened++;
                OutOfBandInEpisode = 1;
                PeakGrade = score.Grade;
                return new EpisodeOpened(sensorId, EpisodesOpened, offset, timestampMs, value, score.Grade, model);
            }

            OutOfBandInEpisode++;
            PeakGrade = Math.Max(PeakGrade, score.Grade);
            return null;
        }

        if (!IsOpen)
        {
            return null;
        }

        InBandRun++;
        if (InBandRun < CloseAfterInBand)
        {
            return null;
        }

        IsOpen = false;
        InBandRun = 0;
        return new EpisodeClosed(sensorId, EpisodesOpened, offset, timestampMs, OutOfBandInEpisode, PeakGrade, model);
    }

    public EpisodeTrackerState Capture() => new(EpisodesOpened, IsOpen, InBandRun, OutOfBandInEpisode, PeakGrade);

    public void Restore(EpisodeTrackerState state)
    {
        EpisodesOpened = state.EpisodesOpened;
        IsOpen = state.IsOpen;
        InBandRun = state.InBandRun;
        OutOfBandInEpisode = state.OutOfBandInEpisode;
        PeakGrade = state.PeakGrade;
    }
}

public readonly record struct EpisodeTrackerState(
    long EpisodesOpened,
    bool IsOpen,
    int InBandRun,
    long OutOfBandInEpisode,
    double PeakGrade);
