using System.Globalization;
using AnomalyActors.Core.Events;
using AnomalyActors.Core.Protocol;
using AnomalyActors.Core.Results;

namespace AnomalyActors.Notifications;

/// <summary>One state change of an alert, as a notification says it.</summary>
/// <param name="Firing">True when the episode opened, false when it closed (resolved).</param>
/// <param name="Severity">By the opening grade, or the peak grade of a close.</param>
/// <param name="Repeat">A reminder of an alert still open, not a change.</param>
public sealed record AlertNotice(
    string AlertId,
    StreamId Stream,
    bool Firing,
    string Severity,
    DateTimeOffset At,
    double Value,
    double Grade,
    string Text,
    bool Repeat = false)
{
    /// <summary>The change's key in the notification log: each is notified once per route and channel.</summary>
    public string ChangeKey => AlertId + (Firing ? "|firing" : "|resolved");

    public int SeverityRank => NotificationSettings.Severities.GetValueOrDefault(Severity);

    public static AlertNotice From(IEpisodeEvent alert)
    {
        var stream = StreamId.Parse(alert.SensorId);
        return alert switch
        {
            EpisodeOpened o => new AlertNotice(o.AlertId, stream, true, ResultRecords.Severity(o.Grade), DateTimeOffset.FromUnixTimeMilliseconds(o.TimestampMs), o.Value, o.Grade,
                string.Create(CultureInfo.InvariantCulture, $"Anomaly detected on {stream.Device} {stream.Metric} at site {stream.Site} with the ID {o.AlertId}: value {o.Value:G6}, grade {o.Grade:0.00}")),
            EpisodeClosed c => new AlertNotice(c.AlertId, stream, false, ResultRecords.Severity(c.PeakGrade), DateTimeOffset.FromUnixTimeMilliseconds(c.TimestampMs), double.NaN, c.PeakGrade,
                string.Create(CultureInfo.InvariantCulture, $"Anomaly on {stream.Device} {stream.Metric} at site {stream.Site} with the ID {c.AlertId} cleared after {c.OutOfBandReadings} out-of-band readings, peak grade {c.PeakGrade:0.00}")),
            _ => throw new ArgumentException($"not an alert: {alert}", nameof(alert)),
        };
    }

    /// <summary>The label a route groups by.</summary>
    public string Label(string name) => name switch
    {
        "site" => Stream.Site,
        "device" => Stream.Device,
        "metric" => Stream.Metric,
        "severity" => Severity,
        "alert" => AlertId,
        _ => string.Empty,
    };
}

/// <summary>What one message to one channel carries: a group's changes.</summary>
/// <param name="GroupLabels">The labels the route groups by, with this group's values.</param>
public sealed record NotificationBatch(string Route, string Channel, IReadOnlyDictionary<string, string> GroupLabels, IReadOnlyList<AlertNotice> Notices, Uri? DashboardUrl)
{
    public bool Firing => Notices.Any(n => n.Firing);

    public string GroupKey => "{" + string.Join(",", GroupLabels.Select(l => $"{l.Key}=\"{l.Value}\"")) + "}";
}
