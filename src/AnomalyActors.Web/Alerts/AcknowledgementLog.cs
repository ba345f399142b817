using System.Text;
using System.Text.Json;

namespace AnomalyActors.Web.Alerts;

/// <summary>
/// Acknowledgements kept in a JSON-lines file of the node's data directory, so an acknowledged alert
/// stays acknowledged after a restart. A line is on disk (flushed through to the device) before the
/// acknowledgement is confirmed; a torn last line after a crash is skipped when the file is read.
/// One writer: the node's data directory lock keeps a second process out.
/// </summary>
public sealed class AcknowledgementLog : IDisposable
{
    /// <summary>Longer names are cut: the name is shown, never interpreted.</summary>
    public const int MaxNameLength = 64;

    private readonly FileStream _file;
    private readonly Lock _lock = new();

    private AcknowledgementLog(FileStream file) => _file = file;

    /// <summary>Opens (or creates) the log and applies what it holds to <paramref name="board"/>.</summary>
    public static AcknowledgementLog Open(string path, AlertBoard board)
    {
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!);
        if (File.Exists(path))
        {
            foreach (var line in File.ReadLines(path, Encoding.UTF8))
            {
                if (Parse(line) is { } acknowledgement)
                {
                    board.Acknowledge(acknowledgement, evenIfUnknown: true);
                }
            }
        }

        var file = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read);
        if (EndsTorn(path))
        {
            // The next line must not continue the torn one.
            file.WriteByte((byte)'\n');
            file.Flush(flushToDisk: true);
        }

        return new AcknowledgementLog(file);
    }

    /// <summary>
    /// Told of each acknowledgement made here (not of those <see cref="Record"/> takes), once it is
    /// on disk: in a cluster, the other members' dashboards record it too.
    /// </summary>
    public Action<Acknowledgement>? Acknowledged { get; set; }

    /// <summary>Records and applies an acknowledgement; false when the board holds no such alert.</summary>
    public bool Acknowledge(AlertBoard board, string alertId, string by, long nowMs)
    {
        var name = Clean(by);
        if (board.Find(alertId) is not { } row)
        {
            return false;
        }

        if (row.AcknowledgedBy is not null)
        {
            return true;
        }

        var acknowledgement = new Acknowledgement(alertId, name, nowMs);
        Append(acknowledgement);
        var applied = board.Acknowledge(acknowledgement);
        Acknowledged?.Invoke(acknowledgement);
        return applied;
    }

    /// <summary>
    /// Records an acknowledgement made on another member's dashboard, once: kept even when this
    /// board does not hold the alert (yet), as at start.
    /// </summary>
    public void Record(AlertBoard board, Acknowledgement acknowledgement)
    {
        if (board.IsAcknowledged(acknowledgement.AlertId))
        {
            return;
        }

        var cleaned = acknowledgement with { By = Clean(acknowledgement.By) };
        Append(cleaned);
        board.Acknowledge(cleaned, evenIfUnknown: true);
    }

    private void Append(Acknowledgement acknowledgement)
    {
        var line = JsonSerializer.SerializeToUtf8Bytes(acknowledgement, JsonSerializerOptions.Web);
        lock (_lock)
        {
            _file.Write(line);
            _file.WriteByte((byte)'\n');
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

    private static bool EndsTorn(string path)
    {
        using var read = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        if (read.Length == 0)
        {
            return false;
        }

        read.Position = read.Length - 1;
        return read.ReadByte() != '\n';
    }

    private static Acknowledgement? Parse(string line)
    {
        try
        {
            var acknowledgement = JsonSerializer.Deserialize<Acknowledgement>(line, JsonSerializerOptions.Web);
            return acknowledgement is { AlertId.Length: > 0, By: not null } ? acknowledgement : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>Printable characters only, at most <see cref="MaxNameLength"/>; "operator" when nothing is left.</summary>
    public static string Clean(string? by)
    {
        var kept = new StringBuilder(MaxNameLength);
        foreach (var ch in by ?? string.Empty)
        {
            if (kept.Length == MaxNameLength)
            {
                break;
            }

            if (!char.IsControl(ch) && !char.IsSurrogate(ch))
            {
                kept.Append(ch);
            }
        }

        var name = kept.ToString().Trim();
        return name.Length == 0 ? "operator" : name;
    }
}
