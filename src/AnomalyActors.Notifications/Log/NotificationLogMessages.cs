namespace AnomalyActors.Notifications.Log;

/// <summary>Every notification message that is persisted or crosses the cluster: bound to <see cref="NotificationSerializer"/>.</summary>
public interface INotificationMessage;

/// <summary>What the notification log persists.</summary>
public interface INotificationLogEvent : INotificationMessage;

/// <summary>One route's channel that a change goes to.</summary>
public sealed record NotificationTarget(string Route, string Channel);

/// <summary>A change accepted for the targets that had not had it yet; it waits in its groups until delivered.</summary>
public sealed record NotificationAccepted(AlertNotice Notice, IReadOnlyList<NotificationTarget> Targets, long AtMs) : INotificationLogEvent;

/// <summary>Changes done with: delivered, or given up (a channel that kept failing held too many).</summary>
public sealed record NotificationsSettled(IReadOnlyList<string> Keys, long AtMs, bool Delivered) : INotificationLogEvent;

/// <summary>A change accepted and not settled, with what a restart needs to send it.</summary>
public sealed record PendingNotification(NotificationTarget Target, AlertNotice Notice);

/// <summary>A key settled at a time (kept for the log's retention).</summary>
public sealed record SettledNotification(string Key, long AtMs);

/// <summary>The log at a sequence number: what waits, and what was settled within the retention.</summary>
public sealed record NotificationLogSnapshot(IReadOnlyList<PendingNotification> Pending, IReadOnlyList<SettledNotification> Settled) : INotificationMessage;

/// <summary>
/// A member's alert change for the site's notification dispatcher (in a cluster, a singleton on
/// some member). Sent again until answered with <see cref="ChangeAccepted"/> of the same sequence.
/// </summary>
public sealed record NotifyChange(long Sequence, AlertNotice Notice) : INotificationMessage;

/// <summary>The dispatcher has the change (recorded, or known before): the sender may forget it.</summary>
public sealed record ChangeAccepted(long Sequence) : INotificationMessage;
