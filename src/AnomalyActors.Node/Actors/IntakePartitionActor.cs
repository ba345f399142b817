using Akka.Actor;
using Akka.Event;
using Akka.Persistence;
using Akka.Persistence.Query;
using Akka.Persistence.Sql.Query;
using Akka.Streams;
using Akka.Streams.Dsl;
using AnomalyActors.Core.Commands;
using AnomalyActors.Core.Events;
using AnomalyActors.Core.Protocol;
using AnomalyActors.Core.Queries;
using AnomalyActors.Core.State;
using AnomalyActors.Node.Settings;

namespace AnomalyActors.Node.Actors;

/// <summary>
/// One intake partition: persists each appended batch as one journal event (a chunk), acknowledges
/// it once durable, then hands each stream's slice to its SensorActor. On recovery it re-delivers
/// every retained chunk; sensors skip what their snapshots already cover. Chunks every sensor has
/// snapshotted past are deleted on a timer. The keys of the messages it stored (which travel in the
/// chunks) are saved as a table of their own before chunks still carrying needed keys are deleted,
/// and read back after recovery before the first append is decided.
/// </summary>
public sealed class IntakePartitionActor : ReceivePersistentActor, IWithTimers
{
    private readonly IntakePartitionState _state;
    private readonly IntakeSettings _settings;
    private readonly IActorRef _sensors;
    private readonly NodeMetrics _metrics;
    private readonly bool _durable;
    private readonly string _keysId;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private long _deleting;
    private long _volatileSequenceNr;
    private long _skippedReported;
    private long _resentStoredReported;

    // The saved key table: its journal position, whether a save is under way, when the last began.
    private long _keysSavedThrough;
    private long _keysSavedVersion = -1;
    private bool _savingKeys;
    private DateTime _lastKeysSave = DateTime.MinValue;

    // Keys of the chunks replayed during recovery, applied again on top of the saved table once it is read.
    private List<(long SequenceNr, ChunkDeliveries Keys)>? _recoveredKeys = [];

    // Appends whose journal write is under way, in write order: told of a failure at once, so their
    // sources retry after their backoff instead of waiting out the append timeout.
    private readonly Queue<(IActorRef ReplyTo, AppendChunk Command)> _writing = new();

    private readonly List<CheckDelivery> _dueForCheck = [];

    // Sharding asked this incarnation to stop (a hand-off or the node's stop).
    private bool _handingOff;

    // Re-delivery requests by sensor (a newer request of a sensor replaces its older one), and the
    // ones the pass under way serves.
    private readonly Dictionary<string, (IActorRef Requester, long FromOffset)> _waitingRedeliveries = new(StringComparer.Ordinal);
    private Dictionary<string, (IActorRef Requester, long FromOffset)>? _redeliveryPass;

    public IntakePartitionActor(int partitionId, IntakeSettings settings, bool durable, IActorRef sensors, NodeMetrics metrics)
    {
        _state = new IntakePartitionState(partitionId);
        _settings = settings;
        _sensors = sensors;
        _metrics = metrics;
        _durable = durable;
        PersistenceId = "intake-" + partitionId;
        _keysId = PersistenceId + "-deliveries";

        Recover<ChunkStored>(stored =>
        {
            Deliver(stored, _state.Apply(stored, LastSequenceNr));
            if (stored.Deliveries is { } keys)
            {
                _recoveredKeys?.Add((LastSequenceNr, keys));
            }
        });
        Recover<RecoveryCompleted>(_ =>
        {
            if (_state.RetainedChunks > 0)
            {
                _log.Info("Partition {0} recovered: offsets up to {1}, {2} chunks re-delivered from offset {3}",
                    partitionId, _state.NextOffset, _state.RetainedChunks, _state.OldestRetainedOffset);
            }

            Timers.StartPeriodicTimer("trim", new TrimIntake(partitionId), settings.TrimInterval);
            Timers.StartPeriodicTimer("check", CheckTick.Instance, settings.DeliveryCheckAfter / 2);
            if (_durable)
            {
                // No append is decided before the saved keys are back: a redelivery of a message
                // whose chunk was deleted would otherwise be stored again.
                Become(AwaitingSavedKeys);
            }
            else
            {
                _recoveredKeys = null;
            }
        });

        Ready();
    }

    public override string PersistenceId { get; }

    public ITimerScheduler Timers { get; set; } = null!;

    private IActorRef KeyStore => Akka.Persistence.Persistence.Instance.Apply(Context.System).SnapshotStoreFor(null);

    protected override void PreStart()
    {
        base.PreStart();
        if (_durable)
        {
            // Asked, not told: a LoadSnapshotResult arriving while this actor recovers would be taken
            // for its own snapshot. The answer waits until recovery ends, for AwaitingSavedKeys.
            KeyStore.Ask<object>(new LoadSnapshot(_keysId, SnapshotSelectionCriteria.Latest, long.MaxValue), _settings.AppendTimeout * 4)
                .PipeTo(Self, success: result => new SavedKeysLoaded(result), failure: e => new SavedKeysLoaded(new LoadSnapshotFailed(e)));
        }
    }

    private void AwaitingSavedKeys()
    {
        Command<SavedKeysLoaded>(answer =>
        {
            if (answer.Result is LoadSnapshotFailed failed)
            {
                throw new InvalidOperationException($"Partition {_state.PartitionId}: reading its saved message keys failed", failed.Cause);
            }

            var loaded = (LoadSnapshotResult)answer.Result;
            if (loaded.Snapshot?.Snapshot is DeliveryTableSnapshot saved)
            {
                var savedThrough = loaded.Snapshot.Metadata.SequenceNr;
                _state.StoredDeliveries.Restore(saved);
                foreach (var (sequenceNr, keys) in _recoveredKeys!)
                {
                    if (sequenceNr > savedThrough)
                    {
                        _state.StoredDeliveries.Record(keys);
                    }
                }

                _keysSavedThrough = savedThrough;
            }

            _recoveredKeys = null;
            _keysSavedVersion = -1;
            Become(Ready);
            Stash.UnstashAll();
            if (_handingOff)
            {
                // After the appends that waited, which are refused now: their sources retry at once.
                Self.Tell(HandOffPartition.Instance);
            }
        });
        Command<HandOffPartition>(_ => _handingOff = true);
        CommandAny(_ => Stash.Stash());
    }

    private void Ready()
    {
        Command<AppendChunk>(Append);
        Command<HandOffPartition>(_ =>
        {
            // Stopping with journal writes under way would let them land after this partition's
            // next incarnation (on another member) has recovered: two writers of one log, whose
            // offsets and sequence numbers collide. So it takes no new appends and stops once the
            // writes under way are done.
            _handingOff = true;
            StopIfHandedOff();
        });
        Command<ReportCheckpoint>(c => _state.Checkpoint(c.SensorId, c.Offset));
        Command<DeliveryConfirmed>(c => _state.Confirmed(c.SensorId, c.Offset));
        Command<CheckTick>(_ => CheckDeliveries());
        Command<TrimIntake>(_ => Trim());
        Command<DeleteMessagesSuccess>(d =>
        {
            _state.Deleted(d.ToSequenceNr);
            _deleting = 0;
        });
        Command<DeleteMessagesFailure>(f =>
        {
            _log.Warning(f.Cause, "Partition {0}: deleting chunks up to {1} failed; will retry", _state.PartitionId, f.ToSequenceNr);
            _deleting = 0;
        });
        Command<RedeliverReadings>(Redeliver);
        Command<RedeliveryPassDone>(RedeliveryPassEnded);
        Command<RetryRedeliveries>(_ =>
        {
            if (_redeliveryPass is null && _waitingRedeliveries.Count > 0)
            {
                StartRedeliveryPass();
            }
        });
        Command<GetPartitionStatus>(_ => Sender.Tell(new PartitionStatus(
            _state.PartitionId, _state.NextOffset, _state.RetainedChunks, _state.OldestRetainedOffset, _state.SensorsBehind)));
        Command<SaveSnapshotSuccess>(saved => KeysSaved(saved.Metadata));
        Command<SaveSnapshotFailure>(failed =>
        {
            _savingKeys = false;
            _log.Warning(failed.Cause, "Partition {0}: saving its message keys failed; chunks carrying them are kept, will retry", _state.PartitionId);
        });
        Command<DeleteSnapshotsSuccess>(_ => { });
        Command<DeleteSnapshotsFailure>(failed =>
            _log.Warning(failed.Cause, "Partition {0}: deleting older copies of its message keys failed; will retry", _state.PartitionId));
    }

    private void Append(AppendChunk command)
    {
        if (_handingOff)
        {
            Sender.Tell(new ChunkAppendFailed(command.PartitionId, command.SourceId, command.SourceSeq, "the partition is moving to another member"));
            return;
        }

        var stored = _state.Process(command);
        var skipped = _state.RedeliveredReadingsSkipped;
        if (skipped != _skippedReported)
        {
            _metrics.RedeliveriesSkipped(skipped - _skippedReported);
            _skippedReported = skipped;
        }

        var resentStored = _state.ResentReadingsStored;
        if (resentStored != _resentStoredReported)
        {
            _metrics.ResentStored(resentStored - _resentStoredReported);
            _resentStoredReported = resentStored;
        }

        if (stored is null)
        {
            Sender.Tell(new ChunkAppended(command.PartitionId, command.SourceId, command.SourceSeq, Duplicate: true));
            return;
        }

        var ack = new ChunkAppended(command.PartitionId, command.SourceId, command.SourceSeq, Duplicate: false);
        var replyTo = Sender;
        if (!_durable)
        {
            // Nothing to retain or trim: the log exists only in this message.
            var previousOffsets = _state.Apply(stored, ++_volatileSequenceNr);
            _state.Deleted(_volatileSequenceNr);
            _metrics.ChunkStored(stored.Chunk.Count);
            Stored(stored, previousOffsets, ack, replyTo);
            return;
        }

        // Offsets are assigned now and the state moves ahead of the journal, so appends pipeline.
        // If a write fails the actor stops and its replacement recovers from the journal alone;
        // nothing is acknowledged or delivered before its write succeeded.
        // LastSequenceNr counts written events only; each write under way takes the next number.
        var previous = _state.Apply(stored, LastSequenceNr + _writing.Count + 1);
        _writing.Enqueue((replyTo, command));
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        PersistAsync(stored, s =>
        {
            _writing.Dequeue();
            _metrics.ChunkStored(s.Chunk.Count, System.Diagnostics.Stopwatch.GetElapsedTime(started));
            Stored(s, previous, ack, replyTo);
            StopIfHandedOff();
        });
    }

    private void StopIfHandedOff()
    {
        if (_handingOff && _writing.Count == 0)
        {
            Context.Stop(Self);
        }
    }

    private void Stored(ChunkStored stored, long[] previousOffsets, ChunkAppended ack, IActorRef replyTo)
    {
        replyTo.Tell(ack);
        Deliver(stored, previousOffsets);
    }

    private void Deliver(ChunkStored stored, long[] previousOffsets)
    {
        var chunk = stored.Chunk;
        for (var g = 0; g < chunk.Keys.Length; g++)
        {
            _sensors.Tell(chunk.Slice(g, stored.PartitionId, stored.FirstOffset, previousOffsets[g], replay: false));
        }

        _state.Handed(stored, Environment.TickCount64);
    }

    /// <summary>
    /// Re-sends streams' readings from the journal to the sensors that asked. Requests that arrive
    /// while a pass is under way wait for the next one, and each pass serves all that waited with one
    /// read from the lowest offset asked for: a member that dies leaves thousands of sensors asking at
    /// once, and one query each would queue past the read journal's permits. Chunks persisted later
    /// reach the sensors live (they hold them back until <see cref="RedeliveryCompleted"/>), so
    /// nothing falls between the two. Without a journal, or when the readings are trimmed already,
    /// there is nothing to send: the completion alone tells a sensor they are gone. A pass that fails
    /// completes nothing; its requests wait for the next pass.
    /// </summary>
    private void Redeliver(RedeliverReadings request)
    {
        if (!_durable)
        {
            Sender.Tell(new RedeliveryCompleted(request.SensorId, request.PartitionId));
            return;
        }

        _waitingRedeliveries[request.SensorId] = (Sender, request.FromOffset);
        if (_redeliveryPass is null)
        {
            StartRedeliveryPass();
        }
    }

    private void StartRedeliveryPass()
    {
        var pass = new Dictionary<string, (IActorRef Requester, long FromOffset)>(_waitingRedeliveries, StringComparer.Ordinal);
        _waitingRedeliveries.Clear();
        var from = pass.Values.Min(r => r.FromOffset);
        if (_state.SequenceNrHolding(from) is not { } fromSequenceNr)
        {
            CompleteRedeliveries(pass);
            return;
        }

        _log.Info("Partition {0}: re-delivering readings of {1} sensors from offset {2} (journal entries {3}-{4})",
            _state.PartitionId, pass.Count, from, fromSequenceNr, LastSequenceNr);
        _redeliveryPass = pass;
        var previous = new Dictionary<string, long>(StringComparer.Ordinal);
        var self = Self;
        PersistenceQuery.Get(Context.System)
            .ReadJournalFor<SqlReadJournal>(SqlReadJournal.Identifier)
            .CurrentEventsByPersistenceId(PersistenceId, fromSequenceNr, LastSequenceNr)
            .Select(envelope => (ChunkStored)envelope.Event)
            .RunForeach(
                stored =>
                {
                    var chunk = stored.Chunk;
                    for (var group = 0; group < chunk.Keys.Length; group++)
                    {
                        var sensor = chunk.Keys[group];
                        var last = chunk.LastOffsetOf(group, stored.FirstOffset);
                        if (pass.TryGetValue(sensor, out var request) && last >= request.FromOffset)
                        {
                            request.Requester.Tell(chunk.Slice(group, stored.PartitionId, stored.FirstOffset, previous.GetValueOrDefault(sensor, -1), replay: true), self);
                            previous[sensor] = last;
                        }
                    }
                },
                Context.Materializer())
            .PipeTo(self, success: () => new RedeliveryPassDone(null), failure: e => new RedeliveryPassDone(e));
    }

    private void RedeliveryPassEnded(RedeliveryPassDone done)
    {
        var pass = _redeliveryPass!;
        _redeliveryPass = null;
        if (done.Failure is { } failure)
        {
            // Not completed: a completion now would make the sensors count readings as lost that the
            // journal still holds. They are read again in the next pass.
            _log.Warning("Partition {0}: reading the journal to re-deliver readings of {1} sensors failed ({2}); trying again",
                _state.PartitionId, pass.Count, failure.Message);
            foreach (var (sensor, request) in pass)
            {
                _waitingRedeliveries.TryAdd(sensor, request);
            }

            Timers.StartSingleTimer("redeliver", RetryRedeliveries.Instance, TimeSpan.FromSeconds(1));
            return;
        }

        CompleteRedeliveries(pass);
        if (_waitingRedeliveries.Count > 0)
        {
            StartRedeliveryPass();
        }
    }

    private void CompleteRedeliveries(Dictionary<string, (IActorRef Requester, long FromOffset)> pass)
    {
        foreach (var (sensor, request) in pass)
        {
            request.Requester.Tell(new RedeliveryCompleted(sensor, _state.PartitionId));
        }
    }

    private void CheckDeliveries()
    {
        // A stopping node hands its sensors off first: a check sent to one now waits in the
        // sensors' region for a home that never comes, and holds the region's stop until its
        // timeout (10 s). Nothing is lost by not asking: what no sensor confirmed is delivered
        // again from this partition's journal wherever the sensor starts next.
        if (_handingOff || CoordinatedShutdown.Get(Context.System).ShutdownReason is not null)
        {
            return;
        }

        _dueForCheck.Clear();
        _state.DueForCheck(Environment.TickCount64, (long)_settings.DeliveryCheckAfter.TotalMilliseconds, _dueForCheck);
        _dueForCheck.ForEach(check => _sensors.Tell(check));
    }

    private void Trim()
    {
        if (!_durable || _deleting != 0)
        {
            return;
        }

        var through = _state.DeletableThrough(_keysSavedThrough);
        if (_state.DeletableThrough() > through)
        {
            // Deletable but for the keys their chunks carry: save the key table first (not too often).
            SaveKeys();
        }

        if (through > 0)
        {
            _deleting = through;
            DeleteMessages(through);
        }
    }

    private void SaveKeys()
    {
        var table = _state.StoredDeliveries;
        if (_savingKeys || DateTime.UtcNow - _lastKeysSave < _settings.DeliveryKeysSaveInterval
            || (table.Version == _keysSavedVersion && _keysSavedThrough == LastSequenceNr))
        {
            return;
        }

        // Covers every chunk up to the last one written (the table may hold keys of a few being
        // written too, which only makes it more complete).
        _savingKeys = true;
        _lastKeysSave = DateTime.UtcNow;
        _keysSavedVersion = table.Version;
        KeyStore.Tell(new SaveSnapshot(new SnapshotMetadata(_keysId, LastSequenceNr, DateTime.UtcNow), table.Snapshot()));
    }

    private void KeysSaved(SnapshotMetadata saved)
    {
        _savingKeys = false;
        if (saved.PersistenceId != _keysId)
        {
            return;
        }

        _keysSavedThrough = saved.SequenceNr;
        KeyStore.Tell(new DeleteSnapshots(_keysId, new SnapshotSelectionCriteria(saved.SequenceNr - 1)));
        Trim();
    }

    protected override void OnPersistFailure(Exception cause, object @event, long sequenceNr)
    {
        _log.Error(cause, "Partition {0}: journal write of chunk {1} failed; restarting from the journal", _state.PartitionId, sequenceNr);
        FailWritesUnderWay(cause);
        base.OnPersistFailure(cause, @event, sequenceNr);
    }

    protected override void OnPersistRejected(Exception cause, object @event, long sequenceNr)
    {
        // The state assigned the chunk its offsets already, so it cannot go on without it: start
        // again from what the journal holds.
        _log.Error(cause, "Partition {0}: the journal rejected chunk {1}; restarting from the journal", _state.PartitionId, sequenceNr);
        FailWritesUnderWay(cause);
        Context.Stop(Self);
    }

    /// <summary>The actor stops, and with it every write under way: none is acknowledged, each is told so.</summary>
    private void FailWritesUnderWay(Exception cause)
    {
        while (_writing.TryDequeue(out var pending))
        {
            var command = pending.Command;
            pending.ReplyTo.Tell(new ChunkAppendFailed(command.PartitionId, command.SourceId, command.SourceSeq, $"journal write failed: {cause.Message}"));
        }
    }

    public static Props Props(int partitionId, IntakeSettings settings, bool durable, IActorRef sensors, NodeMetrics metrics) =>
        Akka.Actor.Props.Create(() => new IntakePartitionActor(partitionId, settings, durable, sensors, metrics));

    /// <summary>The snapshot store's answer about the saved message keys (a result or a failure).</summary>
    private sealed record SavedKeysLoaded(object Result);

    private sealed class CheckTick
    {
        public static readonly CheckTick Instance = new();
    }

    /// <summary>Sharding's stop message for a partition: stop once the journal writes under way are done.</summary>
    public sealed class HandOffPartition
    {
        public static readonly HandOffPartition Instance = new();

        private HandOffPartition()
        {
        }
    }

    /// <summary>A re-delivery pass over the journal ended (with the failure, if it failed).</summary>
    private sealed record RedeliveryPassDone(Exception? Failure);

    private sealed class RetryRedeliveries
    {
        public static readonly RetryRedeliveries Instance = new();
    }
}
