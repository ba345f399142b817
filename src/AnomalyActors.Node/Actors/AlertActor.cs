using System.Globalization;
using System.Text;
using System.Text.Json;
using Akka.Actor;
using Akka.Event;
using AnomalyActors.Core.Commands;
using AnomalyActors.Core.Events;
using AnomalyActors.Core.Protocol;
using AnomalyActors.Node.Settings;

namespace AnomalyActors.Node.Actors;

/// <summary>
/// Writes episode opens and closes to the console and to an append-only JSON-lines file. Delivery
/// is at least once: after a crash a repeat carries the same alert id.
/// </summary>
public sealed class AlertActor : ReceiveActor
{
    private readonly AlertSettings _settings;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private StreamWriter? _file;

    public AlertActor(AlertSettings settings)
    {
        _settings = settings;
        Receive<IEpisodeEvent>(Write);
    }

    protected override void PreStart()
    {
        if (_settings.FilePath is { } path)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            _file = new StreamWriter(new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read), new UTF8Encoding(false))
            {
                AutoFlush = true,
            };
        }
    }

    protected override void PostStop() => _file?.Dispose();

    private void Write(IEpisodeEvent alert)
    {
        var stream = StreamId.Parse(alert.SensorId);
        if (_settings.Console)
        {
            Console.WriteLine(Describe(alert));
        }

        if (_file is not null)
        {
            try
            {
                _file.WriteLine(ToJson(alert, stream));
            }
            catch (IOException e)
            {
                // Unconfirmed, so the sensor keeps the alert uncovered by snapshots and a restart
                // sends it again.
                _log.Error(e, "Could not append alert {0} to {1}", alert.AlertId, _settings.FilePath);
                return;
            }
        }

        Sender.Tell(new AlertWritten(alert.AlertId));
    }

    public static string Describe(IEpisodeEvent alert) => alert switch
    {
        EpisodeOpened o => string.Create(CultureInfo.InvariantCulture,
            $"ALERT OPEN   {o.AlertId}  at {FormatTime(o.TimestampMs)}  value {o.Value:G6}  grade {o.Grade:0.00}"),
        EpisodeClosed c => string.Create(CultureInfo.InvariantCulture,
            $"ALERT CLOSED {c.AlertId}  at {FormatTime(c.TimestampMs)}  {c.OutOfBandReadings} out-of-band readings, peak grade {c.PeakGrade:0.00}"),
        _ => alert.ToString() ?? string.Empty,
    };

    public static string ToJson(IEpisodeEvent alert, StreamId stream)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("alertId", alert.AlertId);
            json.WriteString("type", alert is EpisodeOpened ? "open" : "close");
            json.WriteString("site", stream.Site);
            json.WriteString("device", stream.Device);
            json.WriteString("metric", stream.Metric);
            json.WriteNumber("episode", alert.Episode);
            json.WriteNumber("offset", alert.Offset);
            switch (alert)
            {
                case EpisodeOpened o:
                    json.WriteString("timestamp", FormatTime(o.TimestampMs));
                    json.WriteNumber("value", o.Value);
                    json.WriteNumber("grade", o.Grade);
                    break;
                case EpisodeClosed c:
                    json.WriteString("timestamp", FormatTime(c.TimestampMs));
                    json.WriteNumber("outOfBandReadings", c.OutOfBandReadings);
                    json.WriteNumber("peakGrade", c.PeakGrade);
                    break;
            }

            json.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    private static string FormatTime(long timestampMs) =>
        DateTimeOffset.FromUnixTimeMilliseconds(timestampMs).ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture);

    public static Props Props(AlertSettings settings) => Akka.Actor.Props.Create(() => new AlertActor(settings));
}
