using System.Globalization;
using System.Text.Json;
using AnomalyActors.Core.Events;
using AnomalyActors.Core.Protocol;
using AnomalyActors.Core.Results;

namespace AnomalyActors.Web.Alerts;

/// <summary>
/// The newest alerts of a node, one row per alert id, as the dashboard shows them: an episode's open
/// and close merge into one row, a repeat of either (a sensor re-sends after a crash, with the same
/// id) changes nothing, and the oldest rows give way beyond the capacity. Watchers get every changed
/// row; one that falls behind loses the oldest changes, never slows the writer. Any thread.
/// </summary>
public sealed class AlertBoard
{
    private readonly int _capacity;
    private readonly Dictionary<string, LinkedListNode<AlertView>> _rows = new(StringComparer.Ordinal);
    // Oldest first, by when the board first saw the alert.
    private readonly LinkedList<AlertView> _order = new();
    private readonly Dictionary<string, Acknowledgement> _acknowledgements = new(StringComparer.Ordinal);
    private readonly Broadcast<AlertView> _changes = new();
    private readonly Lock _lock = new();
    private long _version;

    public AlertBoard(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _capacity = capacity;
    }

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _rows.Count;
            }
        }
    }

    /// <summary>An episode opened or closed, as its sensor's results sink wrote it.</summary>
    public void Apply(IEpisodeEvent alert)
    {
        var stream = StreamId.Parse(alert.SensorId);
        switch (alert)
        {
            case EpisodeOpened o:
                Opened(alert.AlertId, stream, o.TimestampMs, o.Value, o.Grade);
                break;
            case EpisodeClosed c:
                Closed(alert.AlertId, stream, c.TimestampMs, c.OutOfBandReadings, c.PeakGrade);
                break;
        }
    }

    /// <summary>
    /// An alert in its JSON form (a line of the alerts file, a message of an alerts topic). False,
    /// and nothing changes, for anything else.
    /// </summary>
    public bool ApplyJson(ReadOnlySpan<byte> json)
    {
        try
        {
            using var document = JsonDocument.Parse(json.ToArray());
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object
                || !root.TryGetProperty("alertId", out var id) || id.ValueKind != JsonValueKind.String
                || !root.TryGetProperty("type", out var type)
                || !root.TryGetProperty("site", out var site) || !root.TryGetProperty("device", out var device) || !root.TryGetProperty("metric", out var metric)
                || !root.TryGetProperty("timestamp", out var timestamp)
                || !DateTimeOffset.TryParse(timestamp.GetString(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at))
            {
                return false;
            }

            var stream = new StreamId(site.GetString()!, device.GetString()!, metric.GetString()!);
            var ms = at.ToUnixTimeMilliseconds();
            switch (type.GetString())
            {
                case ResultRecords.Open:
                    Opened(id.GetString()!, stream, ms, root.GetProperty("value").GetDouble(), root.GetProperty("grade").GetDouble());
                    return true;
                case ResultRecords.Close:
                    Closed(id.GetString()!, stream, ms, root.GetProperty("outOfBandReadings").GetInt64(), root.GetProperty("peakGrade").GetDouble());
                    return true;
                default:
                    return false;
            }
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or KeyNotFoundException or FormatException or ArgumentException)
        {
            return false;
        }
    }

    /// <summary>Marks an alert acknowledged; false when the board does not hold it.</summary>
    public bool Acknowledge(Acknowledgement acknowledgement, bool evenIfUnknown = false)
    {
        AlertView? changed = null;
        lock (_lock)
        {
            var known = _rows.TryGetValue(acknowledgement.AlertId, out var node);
            if (!known && !evenIfUnknown)
            {
                return false;
            }

            _acknowledgements[acknowledgement.AlertId] = acknowledgement;
            if (known && node!.Value.AcknowledgedBy is null)
            {
                changed = node.Value = node.Value with
                {
                    AcknowledgedBy = acknowledgement.By,
                    AcknowledgedMs = acknowledgement.AtMs,
                    Version = ++_version,
                };
            }
        }

        if (changed is not null)
        {
            Publish(changed);
        }

        return true;
    }

    /// <summary>Whether an acknowledgement of the alert is known (held for an alert not on the board too).</summary>
    public bool IsAcknowledged(string alertId)
    {
        lock (_lock)
        {
            return _acknowledgements.ContainsKey(alertId);
        }
    }

    public AlertView? Find(string alertId)
    {
        lock (_lock)
        {
            return _rows.TryGetValue(alertId, out var node) ? node.Value : null;
        }
    }

    /// <summary>Newest first, those matching <paramref name="filter"/>, at most <paramref name="limit"/>.</summary>
    public IReadOnlyList<AlertView> Recent(AlertFilter filter, int limit)
    {
        var result = new List<AlertView>(Math.Min(limit, 256));
        lock (_lock)
        {
            for (var node = _order.Last; node is not null && result.Count < limit; node = node.Previous)
            {
                if (filter.Matches(node.Value))
                {
                    result.Add(node.Value);
                }
            }
        }

        return result;
    }

    /// <summary>Counts by severity of the alerts held, all of them and those still open.</summary>
    public AlertCounts Counts()
    {
        var all = new Dictionary<string, int>(StringComparer.Ordinal) { ["critical"] = 0, ["major"] = 0, ["minor"] = 0 };
        var open = new Dictionary<string, int>(all, StringComparer.Ordinal);
        var sites = new SortedSet<string>(StringComparer.Ordinal);
        int unacknowledged = 0;
        lock (_lock)
        {
            foreach (var row in _order)
            {
                all[row.Severity] = all.GetValueOrDefault(row.Severity) + 1;
                if (row.State == ResultRecords.Open)
                {
                    open[row.Severity] = open.GetValueOrDefault(row.Severity) + 1;
                }

                if (row.AcknowledgedBy is null)
                {
                    unacknowledged++;
                }

                sites.Add(row.Site);
            }

            return new AlertCounts(_order.Count, all, open, unacknowledged, [.. sites]);
        }
    }

    /// <summary>
    /// Every row that changes from now on, until <paramref name="stopping"/>. A watcher that lags by
    /// more than <paramref name="backlog"/> changes loses the oldest of them.
    /// </summary>
    public IAsyncEnumerable<AlertView> WatchAsync(int backlog, CancellationToken stopping) => _changes.WatchAsync(backlog, stopping);

    private void Opened(string alertId, StreamId stream, long timestampMs, double value, double grade)
    {
        AlertView row;
        lock (_lock)
        {
            if (_rows.TryGetValue(alertId, out var node))
            {
                if (node.Value.OpenedMs is not null)
                {
                    return;
                }

                // The close came first (the board was filled from a file's tail): complete the row.
                row = node.Value with
                {
                    OpenedMs = timestampMs,
                    Value = value,
                    Grade = grade,
                    Severity = ResultRecords.Severity(grade),
                    Version = ++_version,
                };
                row = node.Value = row with { Text = TextOf(row) };
            }
            else
            {
                row = New(alertId, stream, ResultRecords.Open, ResultRecords.Severity(grade)) with
                {
                    OpenedMs = timestampMs,
                    Value = value,
                    Grade = grade,
                };
                row = Add(row with { Text = TextOf(row) });
            }
        }

        Publish(row);
    }

    private void Closed(string alertId, StreamId stream, long timestampMs, long outOfBandReadings, double peakGrade)
    {
        AlertView row;
        lock (_lock)
        {
            if (_rows.TryGetValue(alertId, out var node))
            {
                if (node.Value.ClosedMs is not null)
                {
                    return;
                }

                row = node.Value with
                {
                    State = ResultRecords.Close,
                    ClosedMs = timestampMs,
                    OutOfBandReadings = outOfBandReadings,
                    PeakGrade = peakGrade,
                    Version = ++_version,
                };
                row = node.Value = row with { Text = TextOf(row) };
            }
            else
            {
                // Its open is older than the board: the close alone still says what happened.
                row = New(alertId, stream, ResultRecords.Close, ResultRecords.Severity(peakGrade)) with
                {
                    ClosedMs = timestampMs,
                    OutOfBandReadings = outOfBandReadings,
                    PeakGrade = peakGrade,
                };
                row = Add(row with { Text = TextOf(row) });
            }
        }

        Publish(row);
    }

    private AlertView New(string alertId, StreamId stream, string state, string severity)
    {
        var acknowledged = _acknowledgements.GetValueOrDefault(alertId);
        return new AlertView(alertId, stream.Site, stream.Device, stream.Metric, state, severity, null, null, null, null, null, 0,
            string.Empty, acknowledged?.By, acknowledged?.AtMs, ++_version);
    }

    private AlertView Add(AlertView row)
    {
        _rows[row.AlertId] = _order.AddLast(row);
        while (_order.Count > _capacity)
        {
            var oldest = _order.First!;
            _order.RemoveFirst();
            _rows.Remove(oldest.Value.AlertId);
        }

        return row;
    }

    private void Publish(AlertView row) => _changes.Publish(row);

    /// <summary>The alert in words, as a notification would say it.</summary>
    private static string TextOf(AlertView row)
    {
        var subject = $"{row.Device} {row.Metric}";
        var opened = row.OpenedMs is null
            ? string.Empty
            : string.Create(CultureInfo.InvariantCulture, $": value {row.Value:G6}, grade {row.Grade:0.00}");
        var closed = row.ClosedMs is null
            ? string.Empty
            : string.Create(CultureInfo.InvariantCulture, $"; cleared after {row.OutOfBandReadings} out-of-band readings, peak grade {row.PeakGrade:0.00}");
        return $"Anomaly detected on {subject} at site {row.Site} with the ID {row.AlertId}{opened}{closed}";
    }
}

/// <summary>One alert as the dashboard shows it; times in Unix milliseconds; null where not known (a row the board saw only the close of).</summary>
/// <param name="State">open or close.</param>
/// <param name="Version">Grows with every change of any row: a client keeps the row of the highest.</param>
public sealed record AlertView(
    string AlertId,
    string Site,
    string Device,
    string Metric,
    string State,
    string Severity,
    long? OpenedMs,
    long? ClosedMs,
    double? Value,
    double? Grade,
    double? PeakGrade,
    long OutOfBandReadings,
    string Text,
    string? AcknowledgedBy,
    long? AcknowledgedMs,
    long Version);

public sealed record Acknowledgement(string AlertId, string By, long AtMs);

/// <summary>Counts of the alerts a board holds.</summary>
public sealed record AlertCounts(int Total, IReadOnlyDictionary<string, int> BySeverity, IReadOnlyDictionary<string, int> OpenBySeverity, int Unacknowledged, IReadOnlyList<string> Sites);

/// <summary>Which rows a client asked for; null matches everything.</summary>
public sealed record AlertFilter(string? Site = null, string? Severity = null, string? State = null, string? Device = null, string? Metric = null)
{
    public static readonly AlertFilter All = new();

    public bool Matches(AlertView row) =>
        (Site is null || string.Equals(row.Site, Site, StringComparison.Ordinal))
        && (Severity is null || string.Equals(row.Severity, Severity, StringComparison.Ordinal))
        && (State is null || string.Equals(row.State, State, StringComparison.Ordinal))
        && (Device is null || string.Equals(row.Device, Device, StringComparison.Ordinal))
        && (Metric is null || string.Equals(row.Metric, Metric, StringComparison.Ordinal));
}
