namespace AnomalyActors.Notifications.Log;

/// <summary>
/// Which alert changes each route's channel has had: accepted and waiting, or settled (delivered or
/// given up). The dispatcher asks it before sending anything, so a change repeated by a sensor after
/// a crash, by a restarted node or by another member of the cluster is sent once. Pure: no Akka,
/// no clock; the dispatcher persists what <see cref="Decide"/> returns and applies it.
/// </summary>
public sealed class NotificationLogState
{
    private readonly OrderedDictionary<string, PendingNotification> _pending = new(StringComparer.Ordinal);
    private readonly Dictionary<string, long> _settled = new(StringComparer.Ordinal);

    /// <summary>Changes settled (within the retention, after a snapshot).</summary>
    public int SettledCount => _settled.Count;

    /// <summary>Changes accepted and not settled, in the order accepted.</summary>
    public IReadOnlyList<PendingNotification> Pending => [.. _pending.Values];

    public static string KeyOf(NotificationTarget target, AlertNotice notice) => $"{target.Route}|{target.Channel}|{notice.ChangeKey}";

    public bool IsSettled(string key) => _settled.ContainsKey(key);

    public bool IsPending(string key) => _pending.ContainsKey(key);

    /// <summary>
    /// The event recording a change for the targets that have not had it, or null when every target
    /// has had it (accepted or settled before). Reminders are never recorded.
    /// </summary>
    public NotificationAccepted? Decide(AlertNotice notice, IEnumerable<NotificationTarget> targets, long nowMs)
    {
        if (notice.Repeat)
        {
            return null;
        }

        var fresh = targets.Where(t => KeyOf(t, notice) is var key && !_settled.ContainsKey(key) && !_pending.ContainsKey(key)).Distinct().ToList();
        return fresh.Count == 0 ? null : new NotificationAccepted(notice, fresh, nowMs);
    }

    /// <summary>The event settling those of <paramref name="keys"/> still waiting, or null when none is.</summary>
    public NotificationsSettled? Settle(IEnumerable<string> keys, long nowMs, bool delivered)
    {
        var waiting = keys.Where(_pending.ContainsKey).Distinct(StringComparer.Ordinal).ToList();
        return waiting.Count == 0 ? null : new NotificationsSettled(waiting, nowMs, delivered);
    }

    public void Apply(INotificationLogEvent e)
    {
        switch (e)
        {
            case NotificationAccepted accepted:
                foreach (var target in accepted.Targets)
                {
                    var key = KeyOf(target, accepted.Notice);
                    if (!_settled.ContainsKey(key))
                    {
                        _pending.TryAdd(key, new PendingNotification(target, accepted.Notice));
                    }
                }

                break;
            case NotificationsSettled settled:
                foreach (var key in settled.Keys)
                {
                    _pending.Remove(key);
                    _settled[key] = settled.AtMs;
                }

                break;
        }
    }

    /// <summary>What a snapshot keeps: everything waiting, and what was settled since <paramref name="keepSettledFromMs"/>.</summary>
    public NotificationLogSnapshot ToSnapshot(long keepSettledFromMs)
    {
        foreach (var old in _settled.Where(s => s.Value < keepSettledFromMs).Select(s => s.Key).ToList())
        {
            _settled.Remove(old);
        }

        return new NotificationLogSnapshot([.. _pending.Values], [.. _settled.Select(s => new SettledNotification(s.Key, s.Value))]);
    }

    public static NotificationLogState From(NotificationLogSnapshot snapshot)
    {
        var state = new NotificationLogState();
        foreach (var settled in snapshot.Settled)
        {
            state._settled[settled.Key] = settled.AtMs;
        }

        foreach (var pending in snapshot.Pending)
        {
            state._pending.TryAdd(KeyOf(pending.Target, pending.Notice), pending);
        }

        return state;
    }
}
