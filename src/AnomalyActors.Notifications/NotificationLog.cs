using System.Text;
using System.Text.Json;
using AnomalyActors.Core.Protocol;

namespace AnomalyActors.Notifications;

/// <summary>
/// Every change accepted for a route's channel and every change delivered, in a JSON-lines file of
/// the node's data directory. A change is recorded as accepted (flushed to the device) before it
/// waits in its group, so one that a stop or a crash caught undelivered is sent after the restart;
/// a change delivered is never sent again, whether its sensor repeats the alert after a crash or the
/// node restarts. A torn last line is skipped on reading, and the next line starts on its own.
/// </summary>
public sealed class NotificationLog : IDisposable
{
    private readonly FileStream _file;
    private readonly HashSet<string> _delivered = new(StringComparer.Ordinal);
    // Accepted and not delivered yet, in the order accepted.
    private readonly Dictionary<string, (string Route, string Channel, AlertNotice Notice)> _pending = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    private NotificationLog(FileStream file) => _file = file;

    /// <summary>Changes delivered.</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _delivered.Count;
            }
        }
    }

    public static NotificationLog Open(string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        var torn = false;
        var entries = new List<Entry>();
        if (File.Exists(path))
        {
            var bytes = File.ReadAllBytes(path);
            torn = bytes.Length > 0 && bytes[^1] != '\n';
            foreach (var line in Encoding.UTF8.GetString(bytes).Split('\n'))
            {
                try
                {
                    if (line.Length > 0 && JsonSerializer.Deserialize<Entry>(line, JsonSerializerOptions.Web) is { Key.Length: > 0 } entry)
                    {
                        entries.Add(entry);
                    }
                }
                catch (JsonException)
                {
                }
            }
        }

        var file = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read);
        if (torn)
        {
            file.WriteByte((byte)'\n');
            file.Flush(flushToDisk: true);
        }

        var log = new NotificationLog(file);
        foreach (var entry in entries)
        {
            if (entry.Accepted is { } accepted)
            {
                log._pending[entry.Key] = (accepted.Route, accepted.Channel, accepted.ToNotice());
            }
            else
            {
                log._delivered.Add(entry.Key);
                log._pending.Remove(entry.Key);
            }
        }

        return log;
    }

    public static string KeyOf(string route, string channel, AlertNotice notice) => $"{route}|{channel}|{notice.ChangeKey}";

    /// <summary>Records a change for a route's channel; says so when it was accepted or delivered before instead.</summary>
    public Acceptance Accept(string route, string channel, AlertNotice notice)
    {
        var key = KeyOf(route, channel, notice);
        lock (_lock)
        {
            if (_delivered.Contains(key))
            {
                return Acceptance.AlreadyDelivered;
            }

            if (_pending.ContainsKey(key))
            {
                return Acceptance.AlreadyAccepted;
            }

            Append(new Entry(key, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), AcceptedChange.Of(route, channel, notice)));
            _file.Flush(flushToDisk: true);
            _pending[key] = (route, channel, notice);
            return Acceptance.New;
        }
    }

    /// <summary>Changes accepted and not delivered (by a previous run), in the order accepted.</summary>
    public IReadOnlyList<(string Route, string Channel, AlertNotice Notice)> Undelivered()
    {
        lock (_lock)
        {
            return [.. _pending.Values];
        }
    }

    /// <summary>Records a batch as delivered (reminders of open alerts are not changes and are not kept).</summary>
    public void Delivered(NotificationBatch batch, long nowMs)
    {
        lock (_lock)
        {
            foreach (var notice in batch.Notices.Where(n => !n.Repeat))
            {
                var key = KeyOf(batch.Route, batch.Channel, notice);
                if (_delivered.Add(key))
                {
                    Append(new Entry(key, nowMs));
                    _pending.Remove(key);
                }
            }

            _file.Flush(flushToDisk: true);
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _file.Dispose();
        }
    }

    private void Append(Entry entry)
    {
        _file.Write(JsonSerializer.SerializeToUtf8Bytes(entry, JsonSerializerOptions.Web));
        _file.WriteByte((byte)'\n');
    }

    /// <summary>A line: a change accepted (with what a restart needs to send it) or, without <paramref name="Accepted"/>, delivered.</summary>
    private sealed record Entry(string Key, long AtMs, AcceptedChange? Accepted = null);

    private sealed record AcceptedChange(
        string Route, string Channel, string AlertId, string Site, string Device, string Metric, bool Firing, string Severity, long AtMs, double? Value, double Grade, string Text)
    {
        public static AcceptedChange Of(string route, string channel, AlertNotice n) =>
            new(route, channel, n.AlertId, n.Stream.Site, n.Stream.Device, n.Stream.Metric, n.Firing, n.Severity, n.At.ToUnixTimeMilliseconds(),
                double.IsFinite(n.Value) ? n.Value : null, n.Grade, n.Text);

        public AlertNotice ToNotice() =>
            new(AlertId, new StreamId(Site, Device, Metric), Firing, Severity, DateTimeOffset.FromUnixTimeMilliseconds(AtMs), Value ?? double.NaN, Grade, Text);
    }
}

public enum Acceptance
{
    New,
    AlreadyAccepted,
    AlreadyDelivered,
}
