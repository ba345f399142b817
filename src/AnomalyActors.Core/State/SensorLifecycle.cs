namespace AnomalyActors.Core.State;

/// <summary>What a sensor does next about its snapshots and its stop.</summary>
public enum SensorStep
{
    None,
    SaveSnapshot,
    Stop,
}

/// <summary>
/// The rules of a sensor's snapshots, unconfirmed outputs and stop, decided without an actor. A
/// snapshot never covers a reading whose output (alert, enriched record) is not confirmed written:
/// after a crash that reading must be applied again so that its output is sent again, with the same
/// id. One snapshot is in flight at a time. A stop (passivation, hand-off) waits for the outputs and
/// the snapshot in flight, then takes a final snapshot of whatever is not covered. Without snapshots
/// (nothing durable) a stop is immediate.
/// </summary>
public sealed class SensorLifecycle
{
    private readonly bool _snapshots;
    private readonly long _snapshotEveryReadings;

    /// <param name="snapshots">Whether the sensor has a snapshot store at all.</param>
    /// <param name="snapshotEveryReadings">A snapshot comes due after this many applied readings.</param>
    public SensorLifecycle(bool snapshots, long snapshotEveryReadings)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(snapshotEveryReadings, 1);
        _snapshots = snapshots;
        _snapshotEveryReadings = snapshotEveryReadings;
    }

    /// <summary>Offset covered by the newest snapshot known to be saved; -1 for none.</summary>
    public long DurableOffset { get; private set; } = -1;

    /// <summary>Offset the snapshot being saved covers; -1 when none is in flight.</summary>
    public long SnapshotInFlight { get; private set; } = -1;

    /// <summary>Outputs sent and not yet confirmed written.</summary>
    public int UnconfirmedOutputs { get; private set; }

    public bool Stopping { get; private set; }

    /// <summary>Recovery restored a snapshot covering the log up to <paramref name="offset"/>.</summary>
    public void Recovered(long offset) => DurableOffset = offset;

    public void OutputSent() => UnconfirmedOutputs++;

    /// <summary>Readings were applied: a snapshot once enough of them piled up.</summary>
    public SensorStep ReadingsApplied(SensorState state) =>
        state.ShouldSnapshot(_snapshotEveryReadings) ? SnapshotIfPossible(state) : SensorStep.None;

    /// <summary>The snapshot interval passed: a snapshot of whatever is not covered yet.</summary>
    public SensorStep IntervalElapsed(SensorState state) => SnapshotIfPossible(state);

    public SensorStep OutputConfirmed(SensorState state)
    {
        UnconfirmedOutputs = Math.Max(0, UnconfirmedOutputs - 1);
        if (UnconfirmedOutputs > 0)
        {
            return SensorStep.None;
        }

        // A snapshot that came due while outputs were unconfirmed was skipped: it may be taken now.
        return Stopping ? NextStopStep(state) : ReadingsApplied(state);
    }

    /// <summary>Captures the snapshot to save; the state counts readings anew from here.</summary>
    public SensorSnapshot StartSnapshot(SensorState state)
    {
        SnapshotInFlight = state.Offset;
        var snapshot = state.Capture();
        state.SnapshotTaken();
        return snapshot;
    }

    /// <summary>The snapshot in flight is saved; <paramref name="checkpoint"/> is the offset it covers.</summary>
    public SensorStep SnapshotSaved(SensorState state, out long checkpoint)
    {
        DurableOffset = SnapshotInFlight;
        SnapshotInFlight = -1;
        checkpoint = DurableOffset;
        return Stopping ? NextStopStep(state) : SensorStep.None;
    }

    /// <summary>
    /// The snapshot store refused: nothing is reported, so the log keeps the readings, and the next
    /// interval tries again. A stopping sensor stops anyway (the log replays them to its next incarnation).
    /// </summary>
    public SensorStep SnapshotFailed()
    {
        SnapshotInFlight = -1;
        return Stopping ? SensorStep.Stop : SensorStep.None;
    }

    /// <summary>Passivation or hand-off asked the sensor to stop.</summary>
    public SensorStep StopRequested(SensorState state)
    {
        Stopping = true;
        return NextStopStep(state);
    }

    private SensorStep NextStopStep(SensorState state)
    {
        if (SnapshotInFlight >= 0)
        {
            return SensorStep.None;
        }

        if (!_snapshots)
        {
            return SensorStep.Stop;
        }

        if (UnconfirmedOutputs > 0)
        {
            return SensorStep.None;
        }

        return IsBehind(state) ? SensorStep.SaveSnapshot : SensorStep.Stop;
    }

    private SensorStep SnapshotIfPossible(SensorState state) =>
        _snapshots && SnapshotInFlight < 0 && UnconfirmedOutputs == 0 && IsBehind(state) ? SensorStep.SaveSnapshot : SensorStep.None;

    // Offsets only grow within the stream's partition, so anything past the durable offset is uncovered.
    private bool IsBehind(SensorState state) => state.Offset > DurableOffset;
}
