using System.Text;
using System.Text.Json;

namespace AnomalyActors.Notifications;

/// <summary>
/// The changes already delivered, per route and channel, in a JSON-lines file of the node's data
/// directory: a change delivered is never sent again, whether the sensor repeats its alert after a
/// crash or the node restarts. A line is flushed to the device before the delivery counts; a torn
/// last line is skipped on reading, and the next line starts on a line of its own.
/// </summary>
public sealed class NotificationLog : IDisposable
{
    private readonly FileStream _file;
    private readonly HashSet<string> _delivered = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    private NotificationLog(FileStream file) => _file = file;

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
        var delivered = new HashSet<string>(StringComparer.Ordinal);
        var torn = false;
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
                        delivered.Add(entry.Key);
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
        log._delivered.UnionWith(delivered);
        return log;
    }

    public static string KeyOf(string route, string channel, AlertNotice notice) => $"{route}|{channel}|{notice.ChangeKey}";

    public bool WasDelivered(string route, string channel, AlertNotice notice)
    {
        lock (_lock)
        {
            return _delivered.Contains(KeyOf(route, channel, notice));
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
                    _file.Write(JsonSerializer.SerializeToUtf8Bytes(new Entry(key, nowMs), JsonSerializerOptions.Web));
                    _file.WriteByte((byte)'\n');
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

    private sealed record Entry(string Key, long AtMs);
}
