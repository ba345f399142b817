using Akka.Actor;
using Akka.Event;
using Akka.Persistence;
using AnomalyActors.Core.Commands;
using AnomalyActors.Core.Events;
using AnomalyActors.Core.Queries;
using AnomalyActors.Core.Results;
using AnomalyActors.Core.State;
using AnomalyActors.Node.Settings;

namespace AnomalyActors.Node.Actors;

/// <summary>
/// One sensor stream. <see cref="SensorState"/> decides what a slice means and applies it,
/// <see cref="SensorLifecycle"/> decides when to snapshot and when to stop; this actor persists,
/// sends the outputs to the node's results sink, and talks back to the log partition that sent the
/// slices (its own intake or a Kafka partition): checkpoints after each snapshot, and a request to
/// re-deliver when readings went missing. Before it scores, a sensor whose model version is not
/// the node's current one journals the adoption of the current one (<see cref="ModelAdopted"/>).
/// </summary>
public sealed class SensorActor : ReceivePersistentActor, IWithTimers
{
    private const string SnapshotTimer = "snapshot";
    private const string RedeliveryTimer = "redelivery";

    private readonly SensorState _state;
    private readonly SensorLifecycle _lifecycle;
    private readonly SensorWiring _wiring;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly List<IEpisodeEvent> _newEvents = [];
    private readonly List<ScoredReading>? _scored;
    private readonly bool _sinkTakesScored;
    private long _snapshotStarted;

    // The archive log's position after this sensor's last recorded readings.
    private long _recordedThrough = -1;
    private List<IEpisodeEvent>? _recovered;

    /// <summary>The log partition that sent the latest live slice: where checkpoints and re-delivery requests go.</summary>
    private IActorRef? _partition;

    /// <summary>Where the pending re-delivery request went.</summary>
    private IActorRef? _askedPartition;

    public SensorActor(string sensorId, DetectorSet detectors, SensorWiring wiring)
    {
        _wiring = wiring;
        _state = new SensorState(sensorId, detectors, wiring.Settings.CloseAfterInBand);
        _lifecycle = new SensorLifecycle(wiring.Durable, wiring.Settings.SnapshotEveryReadings);
        _sinkTakesScored = wiring.Results.TakesEnriched || wiring.Results.Archive is not null;
        _scored = _sinkTakesScored || wiring.Tap is not null ? [] : null;
        PersistenceId = "sensor-" + sensorId;

        Recover<SnapshotOffer>(offer =>
        {
            var snapshot = (SensorSnapshot)offer.Snapshot;
            if (!_state.Restore(snapshot))
            {
                _log.Warning("Sensor {0}: detector configuration changed since the snapshot; detectors start afresh", sensorId);
            }

            _lifecycle.Recovered(snapshot.Offset);
        });
        Recover<ModelAdopted>(adopted => _state.Apply(adopted));
        Recover<IEpisodeEvent>(recorded =>
        {
            _state.Apply(recorded);
            (_recovered ??= []).Add(recorded);
        });
        Recover<RecoveryCompleted>(_ =>
        {
            // Outputs are at least once: a transition journaled just before a crash may never have
            // reached the sink, so the ones after the snapshot go out again (same alert ids).
            foreach (var recorded in _recovered ?? [])
            {
                SendOutput(recorded);
            }

            _recovered = null;
            if (wiring.Durable)
            {
                // A random first delay spreads the snapshots of sensors started together (a fleet's
                // first readings, a restart) instead of writing them all in the same instant.
                var interval = wiring.Settings.SnapshotInterval;
                Timers.StartPeriodicTimer(SnapshotTimer, SnapshotDue.Instance, interval * (0.5 + Random.Shared.NextDouble()), interval);
            }
        });

        Ready();
    }

    public override string PersistenceId { get; }

    public ITimerScheduler Timers { get; set; } = null!;

    private void Ready()
    {
        Command<ScoreReadings>(Score);
        Command<CheckDelivery>(Check);
        Command<PassivateSensor>(_ => Act(_lifecycle.StopRequested(_state)));
        Command<SnapshotDue>(_ => Act(_lifecycle.IntervalElapsed(_state)));
        Command<RedeliveryCompleted>(_ => { });
        Command<RedeliveryOverdue>(_ => { });
        Always();
    }

    /// <summary>
    /// Readings before a live slice never arrived (the sensor failed with slices in its mailbox, or
    /// they were in flight to a node that died): live slices wait in the stash while the partition
    /// re-sends the missing ones from its log.
    /// </summary>
    private void AwaitingRedelivery()
    {
        Command<ScoreReadings>(slice =>
        {
            if (slice.Replay)
            {
                Score(slice);
                return;
            }

            // A newer sender is the partition's current owner: the one to ask if this request is lost.
            _partition = Sender;
            Stash.Stash();
        });
        Command<RedeliveryCompleted>(_ => RedeliveryDone());
        // A hand-off or passivation does not wait for the partition, which may be moving itself:
        // what this sensor applied is covered by its snapshot or still retained by the partition,
        // and what it waits for its next incarnation finds missing again (a gap, or a delivery check).
        Command<PassivateSensor>(_ => Act(_lifecycle.StopRequested(_state)));
        Command<CheckDelivery>(check =>
        {
            if (check.PartitionId == _state.Missing?.Partition && !Sender.Equals(_askedPartition))
            {
                // The partition moved to another member since the request went out, perhaps with
                // the member that had it: ask its new owner now rather than after the timeout.
                _partition = Sender;
                AskForRedelivery(_state.RedeliveryRequest());
            }
        });
        Command<RedeliveryOverdue>(_ =>
        {
            _log.Warning("Sensor {0}: no re-delivery from partition {1} yet; asking again", _state.SensorId, _state.Missing?.Partition);
            AskForRedelivery(_state.RedeliveryRequest());
        });
        Always();
        Command<object>(_ => Stash.Stash());
    }

    private void Always()
    {
        Command<AlertWritten>(_ => Act(_lifecycle.OutputConfirmed(_state)));
        Command<EnrichedWritten>(_ => Act(_lifecycle.OutputConfirmed(_state)));
        Command<SaveSnapshotSuccess>(SnapshotSaved);
        Command<SaveSnapshotFailure>(failure =>
        {
            _log.Warning(failure.Cause, "Sensor {0}: snapshot failed; the log keeps its readings until one succeeds", _state.SensorId);
            Act(_lifecycle.SnapshotFailed());
        });
        Command<DeleteSnapshotsSuccess>(_ => { });
        Command<DeleteSnapshotsFailure>(f => _log.Debug("Sensor {0}: old snapshots not deleted: {1}", _state.SensorId, f.Cause.Message));
        Command<GetSensorState>(_ => Sender.Tell(_state.View()));
    }

    private void Score(ScoreReadings slice)
    {
        if (_state.DecideAdoption(_wiring.Models?.Model) is { } adoption)
        {
            // Journaled before the slice is scored with it, so a recovery switches at the same reading.
            Persist(adoption, adopted =>
            {
                _state.Apply(adopted);
                _wiring.Metrics.ModelAdopted();
                Score(slice);
            });
            return;
        }

        var scoredBefore = _state.ReadingsScored;
        var rejectedBefore = _state.ReadingsRejected;
        _newEvents.Clear();
        var watched = _wiring.Tap?.IsWatched(_state.SensorId) == true;
        var outcome = _state.Process(slice, _newEvents, _sinkTakesScored || watched ? _scored : null);
        if (!slice.Replay && outcome.Verdict != SliceVerdict.ForeignPartition)
        {
            _partition = Sender;
        }

        switch (outcome.Verdict)
        {
            case SliceVerdict.Gap:
                _log.Warning("Sensor {0}: missed readings between offsets {1} and {2}; asking partition {3} to re-deliver",
                    _state.SensorId, _state.Offset, slice.PreviousOffset, slice.PartitionId);
                Stash.Stash();
                AskForRedelivery(_state.RequestRedelivery(slice));
                Become(AwaitingRedelivery);
                return;
            case SliceVerdict.ForeignPartition:
                _log.Error("Stream {0} is bound to partition {1} but {2} readings arrived on partition {3}; they are dead-lettered",
                    _state.SensorId, _state.PartitionId, slice.Values.Length, slice.PartitionId);
                _wiring.Metrics.Refused(slice.Values.Length);
                _wiring.Results.Actor.Tell(new RefusedReadings(slice, _state.PartitionId));
                // Refused for good, so the partition may pass them.
                Sender.Tell(new ReportCheckpoint(slice.PartitionId, _state.SensorId, slice.LastOffset));
                return;
            case SliceVerdict.AlreadyApplied:
                // A partition re-delivering after a restart: tell it what the snapshot already covers.
                if (_lifecycle.DurableOffset >= 0)
                {
                    Sender.Tell(new ReportCheckpoint(slice.PartitionId, _state.SensorId, _lifecycle.DurableOffset));
                }

                return;
        }

        _wiring.Metrics.Scored(_state.ReadingsScored - scoredBefore, _state.ReadingsRejected - rejectedBefore);
        if (_scored is { Count: > 0 })
        {
            if (watched)
            {
                _wiring.Tap!.Record(_state.SensorId, _scored);
            }

            if (_wiring.Results.Archive is { } archive)
            {
                _recordedThrough = archive.Record(_state.SensorId, _state.DetectorVersion, _scored);
            }
            else if (_sinkTakesScored)
            {
                SendOutput(new PublishScored(_state.SensorId, _state.DetectorVersion, _scored.ToArray()));
            }

            _scored.Clear();
        }

        if (_newEvents.Count == 0 || !_wiring.Settings.JournalEpisodes)
        {
            // The sink's confirmation is the record of a transition: no snapshot covers its reading
            // before that, and a replay of the log derives it again with the same id.
            _newEvents.ForEach(Decided);
            Act(_lifecycle.ReadingsApplied(_state));
            return;
        }

        var remaining = _newEvents.Count;
        PersistAll(_newEvents.ToArray(), persisted =>
        {
            Decided(persisted);
            if (--remaining == 0)
            {
                Act(_lifecycle.ReadingsApplied(_state));
            }
        });
    }

    private void Check(CheckDelivery check)
    {
        switch (_state.Check(check))
        {
            case DeliveryCheck.Applied:
                Sender.Tell(new DeliveryConfirmed(check.PartitionId, _state.SensorId, _state.AppliedThrough));
                if (_lifecycle.DurableOffset >= 0)
                {
                    // The partition keeps asking a stream whose readings no snapshot covers, and may
                    // not know this one's: it went to the partition's previous owner, or this
                    // incarnation was started by the check itself.
                    Sender.Tell(new ReportCheckpoint(check.PartitionId, _state.SensorId, _lifecycle.DurableOffset));
                }

                break;
            case DeliveryCheck.Gap:
                _log.Warning("Sensor {0}: partition {1} sent readings up to offset {2} that never arrived (applied through {3}); asking it to re-deliver",
                    _state.SensorId, check.PartitionId, check.LastOffset, _state.AppliedThrough);
                _partition = Sender;
                AskForRedelivery(_state.RedeliveryRequest());
                Become(AwaitingRedelivery);
                break;
        }
    }

    private void Decided(IEpisodeEvent transition)
    {
        _wiring.Metrics.Transition(transition);
        SendOutput(transition);
    }

    private void SendOutput(object output)
    {
        _lifecycle.OutputSent();
        _wiring.Results.Actor.Tell(output);
    }

    private void AskForRedelivery(RedeliverReadings request)
    {
        _askedPartition = _partition!;
        _askedPartition.Tell(request);
        Timers.StartSingleTimer(RedeliveryTimer, RedeliveryOverdue.Instance, _wiring.Settings.RedeliveryTimeout);
    }

    private void RedeliveryDone()
    {
        Timers.Cancel(RedeliveryTimer);
        if (_state.RedeliveryCompleted() is { } lost)
        {
            _log.Error("Sensor {0}: partition {1} no longer holds its readings after offset {2} up to {3}; they are lost",
                _state.SensorId, _state.PartitionId, lost.After, lost.Through);
        }

        Stash.UnstashAll();
        Become(Ready);
    }

    private void SnapshotSaved(SaveSnapshotSuccess success)
    {
        _wiring.Metrics.SnapshotSaved(System.Diagnostics.Stopwatch.GetElapsedTime(_snapshotStarted));
        var next = _lifecycle.SnapshotSaved(_state, out var checkpoint);
        _partition?.Tell(new ReportCheckpoint(_state.PartitionId, _state.SensorId, checkpoint));
        DeleteSnapshots(new SnapshotSelectionCriteria(success.Metadata.SequenceNr, success.Metadata.Timestamp.AddTicks(-1)));
        Act(next);
    }

    private void Act(SensorStep step)
    {
        switch (step)
        {
            case SensorStep.SaveSnapshot:
                // No snapshot may cover a reading whose archive record a crash could still lose.
                _wiring.Results.Archive?.EnsureDurable(_recordedThrough);
                _snapshotStarted = System.Diagnostics.Stopwatch.GetTimestamp();
                SaveSnapshot(_lifecycle.StartSnapshot(_state));
                break;
            case SensorStep.Stop:
                Context.Stop(Self);
                break;
        }
    }

    public static Props Props(string sensorId, DetectorSet detectors, SensorWiring wiring) =>
        Akka.Actor.Props.Create(() => new SensorActor(sensorId, detectors, wiring));

    private sealed class SnapshotDue
    {
        public static readonly SnapshotDue Instance = new();
    }

    private sealed class RedeliveryOverdue
    {
        public static readonly RedeliveryOverdue Instance = new();
    }
}
