using Akka.Actor;
using Akka.Event;
using AnomalyActors.Core.Results;
using AnomalyActors.Notifications.Channels;

namespace AnomalyActors.Notifications;

/// <summary>
/// Turns delivered alerts into notifications: each change goes to the channels of every route that
/// matches it (unless a silence covers it or the log says it was delivered), waits in its group for
/// the route's group wait, and goes out as one message per group and channel, one at a time per
/// group. A failed message is sent again after a backoff that doubles up to the maximum, with
/// whatever joined the group meanwhile; a channel that keeps failing holds at most a bounded number
/// of changes. Sending runs off the actor's thread, so no channel slows anything else down.
/// </summary>
public sealed class NotificationDispatcher : ReceiveActor, IWithTimers
{
    /// <summary>How often alerts still open are checked for a reminder, at most (more often for short repeat intervals).</summary>
    public static readonly TimeSpan RepeatCheck = TimeSpan.FromSeconds(30);

    /// <summary>Open alerts remembered for reminders; the oldest go first beyond this.</summary>
    private const int MaxOpenAlerts = 10_000;

    private readonly NotificationSettings _settings;
    private readonly NotificationLog _log;
    private readonly IReadOnlyDictionary<string, INotificationChannel> _channels;
    private readonly NotificationCounters _counters;
    private readonly Uri? _dashboard;
    private readonly Func<DateTimeOffset> _now;
    private readonly ILoggingAdapter _logger = Context.GetLogger();
    private readonly Dictionary<string, Group> _groups = new(StringComparer.Ordinal);
    private readonly Dictionary<string, OpenAlert> _open = new(StringComparer.Ordinal);
    private IActorRef? _flushing;

    public NotificationDispatcher(
        NotificationSettings settings, NotificationLog log, IReadOnlyDictionary<string, INotificationChannel> channels, NotificationCounters counters, Uri? dashboard, Func<DateTimeOffset>? now = null)
    {
        _settings = settings;
        _log = log;
        _channels = channels;
        _counters = counters;
        _dashboard = dashboard;
        _now = now ?? (() => DateTimeOffset.UtcNow);
        Receive<AlertDelivered>(delivered => Accept(AlertNotice.From(delivered.Alert)));
        Receive<Flush>(flush => Send(flush.GroupId));
        Receive<Sent>(Delivered);
        Receive<SendFailed>(Failed);
        Receive<RemindOpen>(_ => Remind());
        Receive<FlushAll>(_ => FlushNow());
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(NotificationSettings settings, NotificationLog log, IReadOnlyDictionary<string, INotificationChannel> channels, NotificationCounters counters, Uri? dashboard, Func<DateTimeOffset>? now = null) =>
        Akka.Actor.Props.Create(() => new NotificationDispatcher(settings, log, channels, counters, dashboard, now));

    protected override void PreStart()
    {
        if (_settings.Routes.Count == 0)
        {
            return;
        }

        // What a stop or a crash caught between its acceptance and its delivery goes out now.
        foreach (var (routeName, channel, notice) in _log.Undelivered())
        {
            if (_settings.Routes.FirstOrDefault(r => r.Name == routeName) is { } route && route.Channels.Contains(channel) && _channels.ContainsKey(channel))
            {
                Enqueue(route, channel, notice);
                Track(route, notice, _now());
            }
            else
            {
                _logger.Warning("Notification of {0} for route {1} and channel {2} was not delivered before the restart, and the configuration no longer has them; dropped", notice.AlertId, routeName, channel);
            }
        }

        var shortest = _settings.Routes.Min(r => r.RepeatInterval) / 2;
        Timers.StartPeriodicTimer("remind-open", RemindOpen.Instance, shortest < RepeatCheck ? shortest : RepeatCheck);
    }

    private void Accept(AlertNotice notice)
    {
        var now = _now();
        if (_settings.Silences.FirstOrDefault(s => s.Silences(notice.Stream.Key, now)) is { } silence)
        {
            _counters.Count("silenced", "*");
            _logger.Debug("Notification of {0} silenced ({1})", notice.AlertId, silence.Comment);
            return;
        }

        foreach (var route in _settings.Routes.Where(r => r.Match.IsMatch(notice.Stream.Key) && notice.SeverityRank >= r.MinSeverity))
        {
            foreach (var channel in route.Channels)
            {
                switch (Accepted(route, channel, notice))
                {
                    case Acceptance.New:
                        Enqueue(route, channel, notice);
                        break;
                    case Acceptance.AlreadyDelivered:
                        _counters.Count("repeat-skipped", channel);
                        break;
                }
            }

            Track(route, notice, now);
        }
    }

    private Acceptance Accepted(Route route, string channel, AlertNotice notice)
    {
        try
        {
            return _log.Accept(route.Name, channel, notice);
        }
        catch (IOException e)
        {
            // Sent anyway; only a crash before its delivery would lose it now.
            _logger.Error(e, "Could not record notification of {0} for channel {1}", notice.AlertId, channel);
            return Acceptance.New;
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
            group.Pending.RemoveAt(0);
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
    /// The node stops: every group goes out now instead of after its group wait, and the asker hears
    /// <see cref="Flushed"/> once nothing is in flight (a group whose channel fails stays undelivered).
    /// </summary>
    private void FlushNow()
    {
        _flushing = Sender;
        foreach (var group in _groups.Values.ToList())
        {
            Timers.Cancel(group.Id);
            Send(group.Id);
        }

        ReplyIfFlushed();
    }

    private void ReplyIfFlushed()
    {
        if (_flushing is not null && _groups.Values.All(g => !g.InFlight))
        {
            _flushing.Tell(Flushed.Instance);
            _flushing = null;
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
        try
        {
            _log.Delivered(sent.Batch, _now().ToUnixTimeMilliseconds());
        }
        catch (IOException e)
        {
            // Delivered, but not recorded: a repeat of these alerts after a restart would be sent again.
            _logger.Error(e, "Could not record delivered notifications of channel {0}", group.Channel);
        }

        _counters.Count("delivered", group.Channel, sent.Batch.Notices.Count);
        group.Pending.RemoveAll(p => sent.Batch.Notices.Contains(p));
        if (group.Pending.Count == 0)
        {
            _groups.Remove(group.Id);
        }
        else if (_flushing is not null)
        {
            Send(group.Id);
        }
        else
        {
            Timers.StartSingleTimer(group.Id, new Flush(group.Id), group.Route.GroupWait);
        }

        ReplyIfFlushed();
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
}

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
