using AnomalyActors.Core.Commands;
using AnomalyActors.Core.Events;
using AnomalyActors.Core.Models;
using AnomalyActors.Core.Protocol;
using AnomalyActors.Core.Queries;

namespace AnomalyActors.Core.State;

/// <summary>
/// A stream's state as a deterministic fold over its intake log. The readings are durable in the
/// log already, so processing them advances the detectors directly; what the fold decides (episode
/// transitions) comes back as events for the actor to persist. After a crash the actor restores a
/// snapshot, re-applies the log from the snapshot's offset and so derives the same transitions
/// again: those already journaled (<see cref="RecordedThrough"/>) are not emitted twice.
/// A global model is an input from outside the log: the stream adopts it as a journaled event
/// fixed to the offset it had reached (<see cref="ModelAdopted"/>); a recovery that re-applies the
/// log switches at the same reading.
/// </summary>
public sealed class SensorState
{
    private readonly DetectorSet _detectors;
    private readonly EpisodeTracker _episodes;

    // Adoptions recovered from the journal for readings the log has yet to re-deliver, in offset order.
    private readonly List<ModelAdopted> _pendingModels = [];

    public SensorState(string sensorId, DetectorSet detectors, int closeAfterInBand)
    {
        SensorId = sensorId ?? throw new ArgumentNullException(nameof(sensorId));
        _detectors = detectors ?? throw new ArgumentNullException(nameof(detectors));
        _episodes = new EpisodeTracker(closeAfterInBand);
    }

    public string SensorId { get; }

    /// <summary>The global model version the readings are scored with; "" before the first.</summary>
    public string ModelVersion { get; private set; } = string.Empty;

    /// <summary>Adoptions waiting for the log to re-deliver the readings before them.</summary>
    public IReadOnlyList<ModelAdopted> PendingModels => _pendingModels;

    /// <summary>
    /// Whether the stream should adopt <paramref name="model"/>: the event to journal (before the
    /// next reading is applied), or null when the stream has it already or is due to.
    /// </summary>
    public ModelAdopted? DecideAdoption(GlobalModel? model)
    {
        var latest = _pendingModels.Count > 0 ? _pendingModels[^1].Version : ModelVersion;
        if (model is null || model.Version == latest)
        {
            return null;
        }

        var prior = model.TypeOf(StreamId.Parse(SensorId))?.Prior ?? Detection.DetectorPrior.None;
        return new ModelAdopted(SensorId, Offset, model.Version, prior);
    }

    /// <summary>
    /// A journaled adoption (live, once persisted, or in recovery): takes effect now when the state
    /// has reached its offset, otherwise when the re-delivered log passes it.
    /// </summary>
    public void Apply(ModelAdopted adopted)
    {
        if (adopted.AfterOffset <= Offset)
        {
            Adopt(adopted);
        }
        else
        {
            _pendingModels.Add(adopted);
        }
    }

    private void Adopt(ModelAdopted adopted)
    {
        ModelVersion = adopted.Version;
        _detectors.WarmStart(adopted.Prior);
    }

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
    /// Readings up to this offset are known to be lost for good (the log answered a re-delivery
    /// without them); a slice whose previous reading lies at or before it is no gap.
    /// </summary>
    public long LostThrough { get; private set; } = -1;

    /// <summary>
    /// True when the partition delivered readings of this stream before the slice that this state
    /// never applied: applying the slice would silently skip them. A re-delivery reads the log in
    /// order and is never a gap itself.
    /// </summary>
    public bool HasGapBefore(ScoreReadings command) =>
        !command.Replay
        && command.PreviousOffset > Math.Max(Offset, LostThrough)
        && (PartitionId == -1 || PartitionId == command.PartitionId);

    /// <summary>
    /// While a re-delivery is awaited: the partition and the last offset that went missing (the
    /// previous offset of the slice that showed the gap); null otherwise.
    /// </summary>
    public (int Partition, long Through)? Missing { get; private set; }

    /// <summary>A slice showed a gap: what to ask its partition for.</summary>
    public RedeliverReadings RequestRedelivery(ScoreReadings gapSlice) => RequestRedelivery(gapSlice.PartitionId, gapSlice.PreviousOffset);

    private RedeliverReadings RequestRedelivery(int partitionId, long missingThrough)
    {
        Missing = (partitionId, missingThrough);
        return RedeliveryRequest();
    }

    /// <summary>
    /// A partition asks whether this stream applied what it sent, up to the check's last offset.
    /// <see cref="DeliveryCheck.Gap"/> sets up the re-delivery request (<see cref="RedeliveryRequest"/>),
    /// as a slice after a gap would.
    /// </summary>
    public DeliveryCheck Check(CheckDelivery check)
    {
        if (PartitionId != -1 && check.PartitionId != PartitionId)
        {
            // Refused when they came, which the partition already counts as passed.
            return DeliveryCheck.ForeignPartition;
        }

        if (check.LastOffset > Math.Max(Offset, LostThrough))
        {
            RequestRedelivery(check.PartitionId, check.LastOffset);
            return DeliveryCheck.Gap;
        }

        return DeliveryCheck.Applied;
    }

    /// <summary>The offset up to which this stream has applied (or known lost) its partition's readings.</summary>
    public long AppliedThrough => Math.Max(Offset, LostThrough);

    /// <summary>The pending request again (the partition did not answer, or moved).</summary>
    public RedeliverReadings RedeliveryRequest() =>
        Missing is { } missing
            ? new RedeliverReadings(missing.Partition, SensorId, Offset + 1)
            : throw new InvalidOperationException($"Sensor {SensorId} awaits no re-delivery.");

    /// <summary>
    /// The partition re-delivered what it still had. Readings it no longer holds are lost for good:
    /// the slices after them are applied instead of waiting forever. Returns that lost range (after
    /// the state's offset, up to and including the returned end), or null when nothing is lost.
    /// </summary>
    public (long After, long Through)? RedeliveryCompleted()
    {
        var missing = Missing;
        Missing = null;
        if (missing is not { } m || Offset >= m.Through)
        {
            return null;
        }

        LostThrough = Math.Max(LostThrough, m.Through);
        return (Offset, m.Through);
    }

    /// <summary>
    /// Decides what a slice means for this stream and applies the readings it has not applied yet,
    /// appending the new episode transitions to <paramref name="newEvents"/>. A slice of another
    /// partition or one after a gap changes nothing: the verdict tells the caller what to do instead.
    /// </summary>
    /// <param name="scored">
    /// When given, receives one entry per scored reading (prediction, band, grade, episode): the
    /// enriched output of the stream. Readings skipped as already applied produce none.
    /// </param>
    public SliceOutcome Process(ScoreReadings command, List<IEpisodeEvent> newEvents, List<ScoredReading>? scored = null)
    {
        if (PartitionId != -1 && command.PartitionId != PartitionId)
        {
            // Offsets of two partitions cannot be ordered: applying these would corrupt recovery.
            return new SliceOutcome(SliceVerdict.ForeignPartition, 0);
        }

        if (HasGapBefore(command))
        {
            return new SliceOutcome(SliceVerdict.Gap, 0);
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

        PartitionId = command.PartitionId;
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
            while (_pendingModels.Count > 0 && _pendingModels[0].AfterOffset < offset)
            {
                Adopt(_pendingModels[0]);
                _pendingModels.RemoveAt(0);
            }

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
            var transition = _episodes.Step(SensorId, offset, timestamps[i], value, score, ModelVersion);
            if (transition is not null && offset > RecordedThrough)
            {
                newEvents.Add(transition);
            }

            if (scored is not null)
            {
                // A reading belongs to the episode it opens, continues or closes.
                var episode = wasOpen || _episodes.IsOpen ? _episodes.EpisodesOpened : 0;
                scored.Add(new ScoredReading(offset, timestamps[i], value, score.Prediction, score.Low, score.High, score.Grade, score.OutOfBand, episode, ModelVersion));
            }
        }

        var applied = values.Length - start;
        return new SliceOutcome(applied == 0 ? SliceVerdict.AlreadyApplied : SliceVerdict.Applied, applied);
    }

    /// <summary>Recovery: an episode event found in the journal after the snapshot.</summary>
    public void Apply(IEpisodeEvent recorded) => RecordedThrough = Math.Max(RecordedThrough, recorded.Offset);

    /// <summary>What scores this stream's readings (<see cref="DetectorSet.Version"/>).</summary>
    public string DetectorVersion => _detectors.Version;

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
            _episodes.Capture(),
            ModelVersion,
            _pendingModels.ToArray());
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
        ModelVersion = snapshot.ModelVersion;
        _pendingModels.Clear();
        _pendingModels.AddRange(snapshot.PendingModels);
        if (snapshot.DetectorFingerprint != _detectors.Fingerprint)
        {
            // Fresh detectors have no prior: the stream adopts the current model again.
            ModelVersion = string.Empty;
            return false;
        }

        _detectors.RestoreState(snapshot.DetectorState);
        return true;
    }

    public byte[] CaptureDetectorState() => _detectors.CaptureState();

    /// <summary>What a query of the sensor answers: counters and the exact detector state.</summary>
    public SensorStateView View() =>
        new(SensorId, PartitionId, Offset, ReadingsScored, _episodes.EpisodesOpened, _episodes.IsOpen, CaptureDetectorState());
}

/// <summary>What a slice meant for a stream.</summary>
public enum SliceVerdict
{
    /// <summary>Readings past the state's offset were applied.</summary>
    Applied,

    /// <summary>Every reading was at or below the state's offset (a re-delivery after a restart).</summary>
    AlreadyApplied,

    /// <summary>
    /// Readings of the stream before this slice never reached the state: nothing applied; hold the
    /// slice and ask the log to re-deliver from the state's offset.
    /// </summary>
    Gap,

    /// <summary>The slice comes from another partition than the stream's: nothing applied; refuse it.</summary>
    ForeignPartition,
}

/// <summary>What a partition's <see cref="CheckDelivery"/> found.</summary>
public enum DeliveryCheck
{
    /// <summary>Everything the partition sent is applied: confirm it.</summary>
    Applied,

    /// <summary>Some of it never arrived: ask for a re-delivery.</summary>
    Gap,

    /// <summary>The stream belongs to another partition: nothing to say.</summary>
    ForeignPartition,
}

/// <param name="Applied">Readings applied (0 unless the verdict is <see cref="SliceVerdict.Applied"/>).</param>
public readonly record struct SliceOutcome(SliceVerdict Verdict, int Applied);

/// <summary>One reading as scored: the enriched record of a stream.</summary>
/// <param name="Episode">The episode the reading opens, continues or closes; 0 outside episodes.</param>
/// <param name="Model">The global model version the stream used; "" without one.</param>
public readonly record struct ScoredReading(
    long Offset,
    long TimestampMs,
    double Value,
    double Prediction,
    double Low,
    double High,
    double Grade,
    bool OutOfBand,
    long Episode,
    string Model = "");
