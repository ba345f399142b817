using AnomalyActors.Core.Commands;
using AnomalyActors.Core.Events;

namespace AnomalyActors.Core.State;

/// <summary>
/// A stream's state as a deterministic fold over its intake log. The readings are durable in the
/// log already, so processing them advances the detectors directly; what the fold decides (episode
/// transitions) comes back as events for the actor to persist. After a crash the actor restores a
/// snapshot, re-applies the log from the snapshot's offset and so derives the same transitions
/// again: those already journaled (<see cref="RecordedThrough"/>) are not emitted twice.
/// </summary>
public sealed class SensorState
{
    private readonly DetectorSet _detectors;
    private readonly EpisodeTracker _episodes;

    public SensorState(string sensorId, DetectorSet detectors, int closeAfterInBand)
    {
        SensorId = sensorId ?? throw new ArgumentNullException(nameof(sensorId));
        _detectors = detectors ?? throw new ArgumentNullException(nameof(detectors));
        _episodes = new EpisodeTracker(closeAfterInBand);
    }

    public string SensorId { get; }

    /// <summary>The partition whose offsets <see cref="Offset"/> counts; -1 before the first reading.</summary>
    public int PartitionId { get; private set; } = -1;

    /// <summary>Offset of the last reading applied; -1 before the first.</summary>
    public long Offset { get; private set; } = -1;

    public long ReadingsScored { get; private set; }
    public long ReadingsRejected { get; private set; }
    public long ReadingsSinceSnapshot { get; private set; }

    /// <summary>Highest offset whose episode events are already in the journal.</summary>
    public long RecordedThrough { get; private set; } = -1;

    public EpisodeTracker Episodes => _episodes;

    /// <summary>
    /// True when the partition delivered readings of this stream before the slice that this state
    /// never applied: applying the slice would silently skip them.
    /// </summary>
    public bool HasGapBefore(ScoreReadings command) =>
        command.PreviousOffset > Offset && (PartitionId == -1 || PartitionId == command.PartitionId);

    /// <summary>
    /// Applies the readings of <paramref name="command"/> not yet applied and appends the new episode
    /// transitions to <paramref name="newEvents"/>. Returns how many readings were applied (0 when
    /// the whole slice was at or below <see cref="Offset"/>, e.g. during a partition's re-delivery).
    /// </summary>
    /// <param name="scored">
    /// When given, receives one entry per scored reading (prediction, band, grade, episode): the
    /// enriched output of the stream. Readings skipped as already applied produce none.
    /// </param>
    public int Process(ScoreReadings command, List<IEpisodeEvent> newEvents, List<ScoredReading>? scored = null)
    {
        if (command.PartitionId != PartitionId)
        {
            if (PartitionId != -1)
            {
                throw new InvalidOperationException(
                    $"Sensor {SensorId} reads partition {PartitionId} but received partition {command.PartitionId}: " +
                    "the intake partition count changed, which needs a drained system.");
            }

            PartitionId = command.PartitionId;
        }

        var timestamps = command.Timestamps.Span;
        var values = command.Values.Span;
        if (timestamps.Length != values.Length)
        {
            throw new ArgumentException("A slice needs one timestamp per value.", nameof(command));
        }

        var first = command.FirstOffset;
        var explicitOffsets = command.Offsets.Span;
        if (!explicitOffsets.IsEmpty && explicitOffsets.Length != values.Length)
        {
            throw new ArgumentException("Explicit offsets need one offset per value.", nameof(command));
        }

        int start;
        if (explicitOffsets.IsEmpty)
        {
            start = first > Offset ? 0 : (int)Math.Min(values.Length, Offset - first + 1);
        }
        else
        {
            // Strictly increasing: the first reading past Offset is where applying starts.
            var found = explicitOffsets.BinarySearch(Offset + 1);
            start = found >= 0 ? found : ~found;
        }

        for (var i = start; i < values.Length; i++)
        {
            var offset = explicitOffsets.IsEmpty ? first + i : explicitOffsets[i];
            var value = values[i];
            Offset = offset;
            ReadingsSinceSnapshot++;
            if (!double.IsFinite(value))
            {
                ReadingsRejected++;
                continue;
            }

            var score = _detectors.Update(timestamps[i], value);
            ReadingsScored++;
            var wasOpen = _episodes.IsOpen;
            var transition = _episodes.Step(SensorId, offset, timestamps[i], value, score);
            if (transition is not null && offset > RecordedThrough)
            {
                newEvents.Add(transition);
            }

            if (scored is not null)
            {
                // A reading belongs to the episode it opens, continues or closes.
                var episode = wasOpen || _episodes.IsOpen ? _episodes.EpisodesOpened : 0;
                scored.Add(new ScoredReading(offset, timestamps[i], value, score.Prediction, score.Low, score.High, score.Grade, score.OutOfBand, episode));
            }
        }

        return values.Length - start;
    }

    /// <summary>Recovery: an episode event found in the journal after the snapshot.</summary>
    public void Apply(IEpisodeEvent recorded) => RecordedThrough = Math.Max(RecordedThrough, recorded.Offset);

    public bool ShouldSnapshot(long everyReadings) => ReadingsSinceSnapshot >= everyReadings;

    public SensorSnapshot Capture()
    {
        return new SensorSnapshot(
            PartitionId,
            Offset,
            ReadingsScored,
            ReadingsRejected,
            _detectors.Fingerprint,
            _detectors.CaptureState(),
            _episodes.Capture());
    }

    public void SnapshotTaken() => ReadingsSinceSnapshot = 0;

    /// <summary>
    /// Restores a snapshot. Returns false when it was taken under another detector configuration:
    /// offsets and episodes are kept (so nothing is re-applied or re-alerted) but the detectors start
    /// afresh.
    /// </summary>
    public bool Restore(SensorSnapshot snapshot)
    {
        PartitionId = snapshot.PartitionId;
        Offset = snapshot.Offset;
        ReadingsScored = snapshot.ReadingsScored;
        ReadingsRejected = snapshot.ReadingsRejected;
        ReadingsSinceSnapshot = 0;
        _episodes.Restore(snapshot.Episodes);
        if (snapshot.DetectorFingerprint != _detectors.Fingerprint)
        {
            return false;
        }

        _detectors.RestoreState(snapshot.DetectorState);
        return true;
    }

    public byte[] CaptureDetectorState() => _detectors.CaptureState();
}

/// <summary>One reading as scored: the enriched record of a stream.</summary>
/// <param name="Episode">The episode the reading opens, continues or closes; 0 outside episodes.</param>
public readonly record struct ScoredReading(
    long Offset,
    long TimestampMs,
    double Value,
    double Prediction,
    double Low,
    double High,
    double Grade,
    bool OutOfBand,
    long Episode);
