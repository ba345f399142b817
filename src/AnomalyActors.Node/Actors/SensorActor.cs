using Akka.Actor;
using Akka.Event;
using Akka.Persistence;
using AnomalyActors.Core.Commands;
using AnomalyActors.Core.Events;
using AnomalyActors.Core.Queries;
using AnomalyActors.Core.State;
using AnomalyActors.Node.Kafka;
using AnomalyActors.Node.Settings;

namespace AnomalyActors.Node.Actors;

/// <summary>
/// One sensor stream. <see cref="SensorState"/> decides; this actor persists the episode events it
/// returns, forwards them to the alert actor, and snapshots the detector state with the intake
/// offset it covers, reporting that offset to the partition so the log can be trimmed.
/// </summary>
public sealed class SensorActor : ReceivePersistentActor, IWithTimers
{
    private readonly SensorState _state;
    private readonly SensorSettings _settings;
    private readonly bool _durable;
    private readonly IActorRef _partitions;
    private readonly IActorRef _alerts;
    private readonly NodeMetrics _metrics;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly List<IEpisodeEvent> _newEvents = [];
    private List<IEpisodeEvent>? _recovered;

    // Kafka mode: scored readings go to the enriched topic, and checkpoints go back to whichever
    // partition actor sent the readings (partition ownership moves between nodes with the group).
    private readonly IActorRef? _enriched;
    private readonly bool _checkpointToSender;

    // Off in Kafka mode by default: the alerts topic (idempotent producer, confirmed by delivery
    // reports that snapshots wait for) is the record of the episodes, and after a crash the replay
    // from the committed offset derives the same transitions again, with the same alert ids.
    private readonly bool _journalEpisodes;
    private readonly List<ScoredReading>? _scored;
    private IActorRef? _intake;

    /// <summary>Offset covered by the newest snapshot that is known to be saved; -1 for none.</summary>
    private long _durableOffset = -1;
    private long _snapshotInFlightOffset = -1;
    private bool _stopping;

    /// <summary>Alerts sent but not yet confirmed written: no snapshot may cover them.</summary>
    private int _unconfirmedAlerts;

    public SensorActor(
        string sensorId,
        DetectorSet detectors,
        SensorSettings settings,
        bool durable,
        IActorRef partitions,
        IActorRef alerts,
        NodeMetrics metrics,
        IActorRef? enriched,
        bool checkpointToSender,
        bool journalEpisodes)
    {
        _enriched = enriched;
        _checkpointToSender = checkpointToSender;
        _journalEpisodes = journalEpisodes;
        _scored = enriched is null ? null : [];
        _state = new SensorState(sensorId, detectors, settings.CloseAfterInBand);
        _settings = settings;
        _durable = durable;
        _partitions = partitions;
        _alerts = alerts;
        _metrics = metrics;
        PersistenceId = "sensor-" + sensorId;

        Recover<SnapshotOffer>(offer =>
        {
            var snapshot = (SensorSnapshot)offer.Snapshot;
            if (!_state.Restore(snapshot))
            {
                _log.Warning("Sensor {0}: detector configuration changed since the snapshot; detectors start afresh", sensorId);
            }

            _durableOffset = snapshot.Offset;
        });
        Recover<IEpisodeEvent>(recorded =>
        {
            _state.Apply(recorded);
            (_recovered ??= []).Add(recorded);
        });
        Recover<RecoveryCompleted>(_ =>
        {
            // Alerts are at least once: an event journaled just before a crash may never have
            // reached the alert actor, so the ones after the snapshot go out again (same ids).
            if (_recovered is not null)
            {
                foreach (var recorded in _recovered)
                {
                    SendAlert(recorded);
                }

                _recovered = null;
            }

            if (_durable)
            {
                // A random first delay spreads the snapshots of sensors started together (a fleet's
                // first readings, a restart) instead of writing them all in the same instant.
                var firstDelay = settings.SnapshotInterval * (0.5 + Random.Shared.NextDouble());
                Timers.StartPeriodicTimer("snapshot", SnapshotTick.Instance, firstDelay, settings.SnapshotInterval);
            }
        });

        Ready();
    }

    private void Ready()
    {
        Command<ScoreReadings>(Score);
        Command<SnapshotTick>(_ => SaveSnapshotIfBehind());
        Command<SaveSnapshotSuccess>(SnapshotSaved);
        Command<SaveSnapshotFailure>(failure =>
        {
            _log.Warning(failure.Cause, "Sensor {0}: snapshot failed; the intake keeps its readings until one succeeds", _state.SensorId);
            _snapshotInFlightOffset = -1;
            if (_stopping)
            {
                Context.Stop(Self);
            }
        });
        Command<DeleteSnapshotsSuccess>(_ => { });
        Command<DeleteSnapshotsFailure>(f => _log.Debug("Sensor {0}: old snapshots not deleted: {1}", _state.SensorId, f.Cause.Message));
        Command<PassivateSensor>(_ => Passivate());
        Command<RedeliveryCompleted>(_ => { });
        Command<AlertWritten>(_ => AlertConfirmed());
        Command<EnrichedWritten>(_ => AlertConfirmed());
        Command<GetSensorState>(_ => Sender.Tell(new SensorStateView(
            _state.SensorId,
            _state.PartitionId,
            _state.Offset,
            _state.ReadingsScored,
            _state.Episodes.EpisodesOpened,
            _state.Episodes.IsOpen,
            _state.CaptureDetectorState())));
    }

    public override string PersistenceId { get; }

    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>
    /// Slices were lost before reaching this actor (it failed with them in its mailbox): hold every
    /// live slice back while the partition re-sends the missing ones from its journal.
    /// </summary>
    private void AwaitingRedelivery()
    {
        Command<ScoreReadings>(command =>
        {
            if (command.Replay)
            {
                Score(command);
            }
            else
            {
                Stash.Stash();
            }
        });
        Command<RedeliveryCompleted>(_ =>
        {
            Stash.UnstashAll();
            Become(Ready);
        });
        Command<AlertWritten>(_ => AlertConfirmed());
        Command<EnrichedWritten>(_ => AlertConfirmed());
        Command<object>(_ => Stash.Stash());
    }

    /// <summary>Where checkpoints go: the partition actor that sent the live readings (Kafka mode) or the intake region.</summary>
    private IActorRef CheckpointTarget => _intake ?? _partitions;

    private void Score(ScoreReadings command)
    {
        if (_checkpointToSender)
        {
            if (_state.PartitionId != -1 && command.PartitionId != _state.PartitionId)
            {
                // Offsets of two partitions cannot be ordered, so applying these would corrupt the
                // stream's recovery: refuse them loudly (dead letters) and let the commit pass them.
                _alerts.Tell(new ForeignReadings(command, _state.PartitionId));
                Sender.Tell(new ReportCheckpoint(command.PartitionId, _state.SensorId, command.LastOffset));
                return;
            }

            if (!command.Replay)
            {
                _intake = Sender;
            }
        }

        if (_durable && _state.HasGapBefore(command))
        {
            if (command.Replay)
            {
                // The journal no longer holds what is missing; going on is all that is left.
                _log.Error("Sensor {0}: readings before offset {1} are lost for good", _state.SensorId, command.FirstOffset);
            }
            else
            {
                _log.Warning("Sensor {0}: missed readings between offsets {1} and {2}; asking partition {3} to re-deliver",
                    _state.SensorId, _state.Offset, command.PreviousOffset, command.PartitionId);
                Stash.Stash();
                _partitions.Tell(new RedeliverReadings(command.PartitionId, _state.SensorId, _state.Offset + 1));
                Become(AwaitingRedelivery);
                return;
            }
        }

        var scoredBefore = _state.ReadingsScored;
        var rejectedBefore = _state.ReadingsRejected;
        _newEvents.Clear();
        var applied = _state.Process(command, _newEvents, _scored);
        if (_scored is { Count: > 0 })
        {
            _unconfirmedAlerts++;
            _enriched!.Tell(new PublishScored(_state.SensorId, _scored.ToArray()));
            _scored.Clear();
        }

        _metrics.Scored(_state.ReadingsScored - scoredBefore, _state.ReadingsRejected - rejectedBefore);
        if (applied == 0)
        {
            // A partition re-delivering after a restart: tell it what our snapshot already covers.
            if (_durableOffset >= 0)
            {
                (_checkpointToSender && !command.Replay ? Sender : _partitions).Tell(new ReportCheckpoint(command.PartitionId, _state.SensorId, _durableOffset));
            }

            return;
        }

        if (_newEvents.Count == 0)
        {
            SaveSnapshotIfDue();
            return;
        }

        if (!_journalEpisodes)
        {
            foreach (var transition in _newEvents)
            {
                Decided(transition);
            }

            SaveSnapshotIfDue();
            return;
        }

        var remaining = _newEvents.Count;
        PersistAll(_newEvents.ToArray(), persisted =>
        {
            Decided(persisted);
            if (--remaining == 0)
            {
                SaveSnapshotIfDue();
            }
        });
    }

    /// <summary>An episode transition is final (journaled, or needing no journal): count it and alert.</summary>
    private void Decided(IEpisodeEvent transition)
    {
        if (transition is EpisodeOpened)
        {
            _metrics.EpisodeOpened();
        }
        else
        {
            _metrics.EpisodeClosed();
        }

        SendAlert(transition);
    }

    private void SendAlert(IEpisodeEvent alert)
    {
        _unconfirmedAlerts++;
        _alerts.Tell(alert);
    }

    private void AlertConfirmed()
    {
        _unconfirmedAlerts = Math.Max(0, _unconfirmedAlerts - 1);
        if (_unconfirmedAlerts == 0 && _stopping)
        {
            Passivate();
        }
        else if (_unconfirmedAlerts == 0)
        {
            // A snapshot that came due while outputs were unconfirmed was skipped: take it now.
            SaveSnapshotIfDue();
        }
    }

    private void SaveSnapshotIfDue()
    {
        if (_state.ShouldSnapshot(_settings.SnapshotEveryReadings))
        {
            SaveSnapshotIfBehind();
        }
    }

    private void SaveSnapshotIfBehind()
    {
        if (!_durable || _snapshotInFlightOffset >= 0 || _unconfirmedAlerts > 0 || _state.ReadingsSinceSnapshot == 0)
        {
            return;
        }

        _snapshotInFlightOffset = _state.Offset;
        SaveSnapshot(_state.Capture());
        _state.SnapshotTaken();
    }

    private void SnapshotSaved(SaveSnapshotSuccess success)
    {
        _metrics.SnapshotSaved();
        _durableOffset = _snapshotInFlightOffset;
        _snapshotInFlightOffset = -1;
        CheckpointTarget.Tell(new ReportCheckpoint(_state.PartitionId, _state.SensorId, _durableOffset));
        DeleteSnapshots(new SnapshotSelectionCriteria(success.Metadata.SequenceNr, success.Metadata.Timestamp.AddTicks(-1)));
        if (_stopping)
        {
            if (_state.ReadingsSinceSnapshot > 0)
            {
                SaveSnapshotIfBehind();
            }
            else
            {
                Context.Stop(Self);
            }
        }
    }

    private void Passivate()
    {
        _stopping = true;
        if (_snapshotInFlightOffset >= 0 || (_durable && _unconfirmedAlerts > 0))
        {
            return;
        }

        if (_durable && _state.ReadingsSinceSnapshot > 0)
        {
            SaveSnapshotIfBehind();
            return;
        }

        Context.Stop(Self);
    }

    public static Props Props(
        string sensorId,
        DetectorSet detectors,
        SensorSettings settings,
        bool durable,
        IActorRef partitions,
        IActorRef alerts,
        NodeMetrics metrics,
        IActorRef? enriched = null,
        bool checkpointToSender = false,
        bool journalEpisodes = true) =>
        Akka.Actor.Props.Create(() => new SensorActor(sensorId, detectors, settings, durable, partitions, alerts, metrics, enriched, checkpointToSender, journalEpisodes));

    private sealed class SnapshotTick
    {
        public static readonly SnapshotTick Instance = new();
    }
}
