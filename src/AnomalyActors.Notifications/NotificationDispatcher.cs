using Akka.Actor;
using Akka.Event;
using Akka.Pattern;
using Akka.Persistence;
using AnomalyActors.Core.Results;
using AnomalyActors.Notifications.Channels;
using AnomalyActors.Notifications.Log;

namespace AnomalyActors.Notifications;

/// <summary>
/// Turns alert changes into notifications: each change goes to the channels of every route that
/// matches it (unless a silence covers it or the log says the channel had it), waits in its group for
/// the route's group wait, and goes out as one message per group and channel, one at a time per
/// group. A failed message is sent again after a backoff that doubles up to the maximum, with
/// whatever joined the group meanwhile; a channel that keeps failing holds at most a bounded number
/// of changes. Sending runs off the actor's thread, so no channel slows anything else down.
/// The log (<see cref="NotificationLogState"/>) is persisted in the node's journal: a change is
/// recorded as accepted before it waits and as settled once delivered, so what a stop, a crash or a
/// hand-over to another member caught undelivered is sent by the next incarnation, and nothing
/// delivered is sent again. In a cluster this actor is a singleton that every member's alerts reach.
/// </summary>
public sealed class NotificationDispatcher : ReceivePersistentActor, IWithTimers
{
    public const string LogPersistenceId = "notification-log";

    /// <summary>How often alerts still open are checked for a reminder, at most (more often for short repeat intervals).</summary>
    public static readonly TimeSpan RepeatCheck = TimeSpan.FromSeconds(30);

    /// <summary>Open alerts remembered for reminders; the oldest go first beyond this.</summary>
    private const int MaxOpenAlerts = 10_000;

    /// <summary>Events between snapshots; each snapshot deletes the events and snapshots before it.</summary>
    private const int SnapshotEvery = 500;

    private readonly NotificationSettings _settings;
    private readonly IReadOnlyDictionary<string, INotificationChannel> _channels;
    private readonly NotificationCounters _counters;
    private readonly Uri? _dashboard;
    private readonly Func<DateTimeOffset> _now;
    private readonly ILoggingAdapter _logger = Context.GetLogger();
    private readonly Dictionary<string, Group> _groups = new(StringComparer.Ordinal);
    private readonly Dictionary<string, OpenAlert> _open = new(StringComparer.Ordinal);
    private readonly List<string> _dropped = [];
    private NotificationLogState _state = new();
    private int _sinceSnapshot;
    private IActorRef? _flushing;
    private bool _stopping;

    public NotificationDispatcher(
        NotificationSettings settings, IReadOnlyDictionary<string, INotificationChannel> channels, NotificationCounters counters, Uri? dashboard, Func<DateTimeOffset>? now = null)
    {
        _settings = settings;
        _channels = channels;
        _counters = counters;
        _dashboard = dashboard;
        _now = now ?? (() => DateTimeOffset.UtcNow);
        Recover<SnapshotOffer>(offer =>
        {
            if (offer.Snapshot is NotificationLogSnapshot snapshot)
            {
                _state = NotificationLogState.From(snapshot);
            }
        });
        Recover<NotificationAccepted>(e => _state.Apply(e));
        Recover<NotificationsSettled>(e => _state.Apply(e));
        Recover<RecoveryCompleted>(_ => Resume());
        Command<AlertDelivered>(delivered => Accept(AlertNotice.From(delivered.Alert), null));
        Command<NotifyChange>(change => Accept(change.Notice, new ChangeAccepted(change.Sequence)));
        Command<Flush>(flush => Send(flush.GroupId));
        Command<Sent>(Delivered);
        Command<SendFailed>(Failed);
        Command<RemindOpen>(_ => Remind());
        Command<FlushAll>(_ => FlushNow(Sender));
        Command<StopAfterFlush>(_ => StopWhenFlushed());
        Command<FlushTimedOut>(_ =>
        {
            _logger.Warning("Notifications still in flight after {0} s at the stop; they are sent again by the next dispatcher", Notifier.FlushTimeout.TotalSeconds);
            Context.Stop(Self);
        });
        Command<GetNotificationLogStatus>(_ => Sender.Tell(new NotificationLogStatus(_state.SettledCount, _state.Pending.Count)));
        Command<SaveSnapshotSuccess>(saved =>
        {
            DeleteMessages(saved.Metadata.SequenceNr);
            DeleteSnapshots(new SnapshotSelectionCriteria(saved.Metadata.SequenceNr - 1));
        });
        Command<SaveSnapshotFailure>(failed => _logger.Warning("Could not save a snapshot of the notification log ({0}); its journal keeps growing until one succeeds", failed.Cause.Message));
        Command<DeleteMessagesSuccess>(_ => { });
        Command<DeleteMessagesFailure>(failed => _logger.Warning("Could not delete notification log events before a snapshot: {0}", failed.Cause.Message));
        Command<DeleteSnapshotsSuccess>(_ => { });
        Command<DeleteSnapshotsFailure>(failed => _logger.Warning("Could not delete old notification log snapshots: {0}", failed.Cause.Message));
    }

    public override string PersistenceId => LogPersistenceId;

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(NotificationSettings settings, IReadOnlyDictionary<string, INotificationChannel> channels, NotificationCounters counters, Uri? dashboard, Func<DateTimeOffset>? now = null) =>
        Akka.Actor.Props.Create(() => new NotificationDispatcher(settings, channels, counters, dashboard, now));

    /// <summary>
    /// The dispatcher under a supervisor that starts it again after a backoff when its journal fails
    /// (a persistence failure stops a persistent actor), and that stops for good on <see cref="StopAfterFlush"/>.
    /// </summary>
    public static Props Supervised(NotificationSettings settings, IReadOnlyDictionary<string, INotificationChannel> channels, NotificationCounters counters, Uri? dashboard) =>
        BackoffSupervisor.Props(
            Backoff.OnStop(Props(settings, channels, counters, dashboard), "log", TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(30), 0.2, maxNrOfRetries: -1)
                .WithFinalStopMessage(message => message is StopAfterFlush));

    private long NowMs => _now().ToUnixTimeMilliseconds();

    /// <summary>Once the log is recovered: what was accepted and not settled goes out now.</summary>
    private void Resume()
    {
        if (_settings.Routes.Count == 0)
        {
            return;
        }

        var now = _now();
        var gone = new List<string>();
        foreach (var pending in _state.Pending)
        {
            var (routeName, channel) = (pending.Target.Route, pending.Target.Channel);
            if (_settings.Routes.FirstOrDefault(r => r.Name == routeName) is { } route && route.Channels.Contains(channel) && _channels.ContainsKey(channel))
            {
                Enqueue(route, channel, pending.Notice);
                Track(route, pending.Notice, now);
            }
            else
            {
                _logger.Warning("Notification of {0} for route {1} and channel {2} was not delivered before the restart, and the configuration no longer has them; dropped", pending.Notice.AlertId, routeName, channel);
                gone.Add(NotificationLogState.KeyOf(pending.Target, pending.Notice));
            }
        }

        _dropped.AddRange(gone);
        PersistDropped();
        var shortest = _settings.Routes.Min(r => r.RepeatInterval) / 2;
        Timers.StartPeriodicTimer("remind-open", RemindOpen.Instance, shortest < RepeatCheck ? shortest : RepeatCheck);
    }

    /// <param name="ack">Told to the sender once the change is recorded (or known), when a member sent it.</param>
    private void Accept(AlertNotice notice, object? ack)
    {
        var now = _now();
        if (_settings.Silences.FirstOrDefault(s => s.Silences(notice.Stream.Key, now)) is { } silence)
        {
            _counters.Count("silenced", "*");
            _logger.Debug("Notification of {0} silenced ({1})", notice.AlertId, silence.Comment);
            Acknowledge(ack);
            return;
        }

        var routes = _settings.Routes.Where(r => r.Match.IsMatch(notice.Stream.Key) && notice.SeverityRank >= r.MinSeverity).ToList();
        var targets = routes.SelectMany(r => r.Channels.Select(c => new NotificationTarget(r.Name, c))).ToList();
        foreach (var target in targets.Where(t => _state.IsSettled(NotificationLogState.KeyOf(t, notice))))
        {
            _counters.Count("repeat-skipped", target.Channel);
        }

        if (_state.Decide(notice, targets, now.ToUnixTimeMilliseconds()) is not { } accepted)
        {
            foreach (var route in routes)
            {
                Track(route, notice, now);
            }

            Acknowledge(ack);
            return;
        }

        Persist(accepted, e =>
        {
            Applied(e);
            foreach (var target in e.Targets)
            {
                Enqueue(routes.First(r => r.Name == target.Route), target.Channel, e.Notice);
            }

            foreach (var route in routes)
            {
                Track(route, notice, now);
            }

            Acknowledge(ack);
            PersistDropped();
        });
    }

    private void Acknowledge(object? ack)
    {
        if (ack is not null)
        {
            Sender.Tell(ack);
        }
    }

    private void Applied(INotificationLogEvent e)
    {
        _state.Apply(e);
        if (++_sinceSnapshot >= SnapshotEvery)
        {
            _sinceSnapshot = 0;
            SaveSnapshot(_state.ToSnapshot((_now() - _settings.LogRetention).ToUnixTimeMilliseconds()));
        }
    }

    /// <summary>Records as given up the changes a failing channel's groups had to let go.</summary>
    private void PersistDropped()
    {
        if (_dropped.Count == 0)
        {
            return;
        }

        var settled = _state.Settle(_dropped, NowMs, delivered: false);
        _dropped.Clear();
        if (settled is not null)
        {
            Persist(settled, Applied);
        }
    }

    private void Enqueue(Route route, string channel, AlertNotice notice)
    {
        var labels = route.GroupBy.ToDictionary(l => l, notice.Label, StringComparer.Ordinal);
        var id = $"{route.Name}|{channel}|{string.Join("|", labels.Values)}";
        if (!_groups.TryGetValue(id, out var group))
        {
            _groups[id] = group = new Group(id, route, channel, labels);
        }

        if (!notice.Repeat && group.Pending.Any(p => !p.Repeat && p.ChangeKey == notice.ChangeKey))
        {
            return;
        }

        if (group.Pending.Count >= _settings.MaxPendingPerChannel)
        {
            var oldest = group.Pending[0];
            group.Pending.RemoveAt(0);
            if (!oldest.Repeat)
            {
                _dropped.Add(NotificationLogState.KeyOf(new NotificationTarget(route.Name, channel), oldest));
            }

            _counters.Count("dropped", channel);
            _logger.Warning("Channel {0} holds {1} undelivered notifications; the oldest is dropped", channel, _settings.MaxPendingPerChannel);
        }

        group.Pending.Add(notice);
        if (!group.InFlight && !Timers.IsTimerActive(id))
        {
            Timers.StartSingleTimer(id, new Flush(id), route.GroupWait);
        }
    }

    /// <summary>
    /// The node stops: every group goes out now instead of after its group wait, and
    /// <paramref name="asker"/> hears <see cref="Flushed"/> once nothing is in flight (a group whose
    /// channel fails stays undelivered, and the next dispatcher sends it).
    /// </summary>
    private void FlushNow(IActorRef? asker)
    {
        _flushing = asker;
        foreach (var group in _groups.Values.ToList())
        {
            Timers.Cancel(group.Id);
            Send(group.Id);
        }

        ReplyIfFlushed();
    }

    /// <summary>The node stops or hands the dispatcher to another member: flush, then stop (after the flush timeout at most).</summary>
    private void StopWhenFlushed()
    {
        _stopping = true;
        Timers.StartSingleTimer(nameof(FlushTimedOut), FlushTimedOut.Instance, Notifier.FlushTimeout);
        FlushNow(ActorRefs.Nobody);
    }

    private bool Flushing => _flushing is not null || _stopping;

    private void ReplyIfFlushed()
    {
        if (!Flushing || _groups.Values.Any(g => g.InFlight))
        {
            return;
        }

        if (_flushing is { } asker && !asker.IsNobody())
        {
            asker.Tell(Flushed.Instance);
        }

        _flushing = null;
        if (_stopping)
        {
            // After the journal has the last deliveries: Stop would not wait for a write in progress.
            DeferAsync(Flushed.Instance, _ => Context.Stop(Self));
        }
    }

    private void Send(string groupId)
    {
        if (!_groups.TryGetValue(groupId, out var group) || group.InFlight || group.Pending.Count == 0)
        {
            return;
        }

        var batch = new NotificationBatch(group.Route.Name, group.Channel, group.Labels, [.. group.Pending], _dashboard);
        group.InFlight = true;
        _channels[group.Channel].SendAsync(batch, CancellationToken.None).ContinueWith<object>(
            sent => sent.IsCompletedSuccessfully ? new Sent(groupId, batch) : new SendFailed(groupId, batch, sent.Exception?.GetBaseException()),
            TaskScheduler.Default).PipeTo(Self);
    }

    private void Delivered(Sent sent)
    {
        var group = _groups[sent.GroupId];
        group.InFlight = false;
        group.Failures = 0;
        _counters.Count("delivered", group.Channel, sent.Batch.Notices.Count);
        group.Pending.RemoveAll(p => sent.Batch.Notices.Contains(p));
        if (group.Pending.Count == 0)
        {
            _groups.Remove(group.Id);
        }
        else if (Flushing)
        {
            Send(group.Id);
        }
        else
        {
            Timers.StartSingleTimer(group.Id, new Flush(group.Id), group.Route.GroupWait);
        }

        // Reminders of open alerts are not changes and are not recorded.
        var target = new NotificationTarget(sent.Batch.Route, sent.Batch.Channel);
        if (_state.Settle(sent.Batch.Notices.Where(n => !n.Repeat).Select(n => NotificationLogState.KeyOf(target, n)), NowMs, delivered: true) is { } settled)
        {
            Persist(settled, e =>
            {
                Applied(e);
                ReplyIfFlushed();
            });
        }
        else
        {
            ReplyIfFlushed();
        }
    }

    private void Failed(SendFailed failed)
    {
        var group = _groups[failed.GroupId];
        group.InFlight = false;
        group.Failures++;
        _counters.Count("failed", group.Channel);
        var backoff = TimeSpan.FromTicks(Math.Min(_settings.MaxBackoff.Ticks, _settings.MinBackoff.Ticks * (1L << Math.Min(group.Failures - 1, 30))));
        _logger.Warning("Notification to channel {0} failed ({1}); trying again in {2:0.#} s", group.Channel, failed.Error?.Message, backoff.TotalSeconds);
        Timers.StartSingleTimer(group.Id, new Flush(group.Id), backoff);
        ReplyIfFlushed();
    }

    /// <summary>Remembers when an open alert was last notified per route, for reminders; a close forgets it.</summary>
    private void Track(Route route, AlertNotice notice, DateTimeOffset now)
    {
        var key = route.Name + "|" + notice.AlertId;
        if (!notice.Firing)
        {
            _open.Remove(key);
            return;
        }

        if (notice.Repeat || _open.ContainsKey(key))
        {
            return;
        }

        if (_open.Count >= MaxOpenAlerts)
        {
            _open.Remove(_open.MinBy(o => o.Value.LastNotified).Key);
        }

        _open[key] = new OpenAlert(route, notice, now);
    }

    private void Remind()
    {
        var now = _now();
        foreach (var (key, open) in _open.Where(o => now - o.Value.LastNotified >= o.Value.Route.RepeatInterval).ToList())
        {
            _open[key] = open with { LastNotified = now };
            if (_settings.Silences.Any(s => s.Silences(open.Notice.Stream.Key, now)))
            {
                continue;
            }

            foreach (var channel in open.Route.Channels)
            {
                Enqueue(open.Route, channel, open.Notice with { Repeat = true });
            }
        }

        PersistDropped();
    }

    private sealed class Group(string id, Route route, string channel, IReadOnlyDictionary<string, string> labels)
    {
        public string Id { get; } = id;
        public Route Route { get; } = route;
        public string Channel { get; } = channel;
        public IReadOnlyDictionary<string, string> Labels { get; } = labels;
        public List<AlertNotice> Pending { get; } = [];
        public bool InFlight { get; set; }
        public int Failures { get; set; }
    }

    private sealed record OpenAlert(Route Route, AlertNotice Notice, DateTimeOffset LastNotified);

    private sealed record Flush(string GroupId);

    private sealed record Sent(string GroupId, NotificationBatch Batch);

    private sealed record SendFailed(string GroupId, NotificationBatch Batch, Exception? Error);

    private sealed class RemindOpen
    {
        public static readonly RemindOpen Instance = new();
    }

    private sealed class FlushTimedOut
    {
        public static readonly FlushTimedOut Instance = new();
    }
}

/// <summary>Send every waiting group now, then stop: the node stops, or the dispatcher moves to another member.</summary>
public sealed class StopAfterFlush
{
    public static readonly StopAfterFlush Instance = new();

    private StopAfterFlush()
    {
    }
}

/// <summary>Asks the dispatcher for <see cref="NotificationLogStatus"/>.</summary>
public sealed class GetNotificationLogStatus
{
    public static readonly GetNotificationLogStatus Instance = new();

    private GetNotificationLogStatus()
    {
    }
}

/// <param name="Settled">Changes delivered or given up (within the log's retention).</param>
/// <param name="Pending">Changes accepted and not settled yet.</param>
public sealed record NotificationLogStatus(int Settled, int Pending);

/// <summary>Send every waiting group now; answered with <see cref="Flushed"/>.</summary>
public sealed class FlushAll
{
    public static readonly FlushAll Instance = new();

    private FlushAll()
    {
    }
}

/// <summary>Nothing is in flight any more after a <see cref="FlushAll"/>.</summary>
public sealed class Flushed
{
    public static readonly Flushed Instance = new();

    private Flushed()
    {
    }
}

/// <summary>Notification outcomes by channel: delivered, failed (attempts), silenced, dropped, repeat-skipped.</summary>
public sealed class NotificationCounters
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<(string Outcome, string Channel), long> _counts = new();

    public void Count(string outcome, string channel, long by = 1) => _counts.AddOrUpdate((outcome, channel), by, (_, n) => n + by);

    public long Of(string outcome, string channel) => _counts.GetValueOrDefault((outcome, channel));

    public IReadOnlyList<(string Outcome, string Channel, long Count)> All() => [.. _counts.Select(c => (c.Key.Outcome, c.Key.Channel, c.Value))];
}
