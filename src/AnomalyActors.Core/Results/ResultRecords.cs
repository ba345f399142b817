using System.Globalization;
using System.Text;
using System.Text.Json;
using AnomalyActors.Core.DeadLetters;
using AnomalyActors.Core.Events;
using AnomalyActors.Core.Protocol;
using AnomalyActors.Core.State;

namespace AnomalyActors.Core.Results;

/// <summary>
/// The one place output records get their shape, so every sink (console, alerts file, Kafka topics)
/// says the same thing: alert JSON and its one-line text, severity, the attributes a message bus
/// carries as headers, the enriched record of a scored reading and the dead letter of refused readings.
/// </summary>
public static class ResultRecords
{
    public const string Open = "open";
    public const string Close = "close";

    /// <summary>
    /// The header (and JSON field) naming the site that produced a record. A stream's own name starts
    /// with the site its devices publish under, which a careless device configuration can get wrong;
    /// this one is the producing site's configured name.
    /// </summary>
    public const string OriginAttribute = "origin";

    public static string TypeOf(IEpisodeEvent alert) => alert is EpisodeOpened ? Open : Close;

    /// <summary>minor / major / critical by the opening grade; cleared when the episode closes.</summary>
    public static string Severity(IEpisodeEvent alert) => alert is EpisodeOpened o ? Severity(o.Grade) : "cleared";

    /// <summary>The severity of an episode opened at <paramref name="grade"/>.</summary>
    public static string Severity(double grade) => grade switch
    {
        >= 0.9 => "critical",
        >= 0.5 => "major",
        _ => "minor",
    };

    /// <summary>The console line of an alert.</summary>
    public static string Describe(IEpisodeEvent alert) => alert switch
    {
        EpisodeOpened o => string.Create(CultureInfo.InvariantCulture,
            $"ALERT OPEN   {o.AlertId}  at {FormatTime(o.TimestampMs)}  value {o.Value:G6}  grade {o.Grade:0.00}"),
        EpisodeClosed c => string.Create(CultureInfo.InvariantCulture,
            $"ALERT CLOSED {c.AlertId}  at {FormatTime(c.TimestampMs)}  {c.OutOfBandReadings} out-of-band readings, peak grade {c.PeakGrade:0.00}"),
        _ => alert.ToString() ?? string.Empty,
    };

    /// <summary>An alert as one JSON object (a line of the alerts file, the value of an alerts message).</summary>
    /// <param name="origin">The site (data centre) that raised it; its streams' names may say another site.</param>
    public static string AlertJson(IEpisodeEvent alert, string origin)
    {
        var stream = StreamId.Parse(alert.SensorId);
        using var buffer = new MemoryStream(256);
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("alertId", alert.AlertId);
            json.WriteString(OriginAttribute, origin);
            json.WriteString("type", TypeOf(alert));
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

            WriteModel(json, alert.Model);

            json.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }

    /// <summary>What a consumer filters alerts by without parsing them: origin, site, device, metric, severity, type.</summary>
    public static KeyValuePair<string, string>[] AlertAttributes(IEpisodeEvent alert, string origin)
    {
        var stream = StreamId.Parse(alert.SensorId);
        return
        [
            new(OriginAttribute, origin),
            new("site", stream.Site),
            new("device", stream.Device),
            new("metric", stream.Metric),
            new("severity", Severity(alert)),
            new("type", TypeOf(alert)),
        ];
    }

    /// <summary>A scored reading with its prediction, band, score and episode, as one JSON object.</summary>
    public static byte[] EnrichedJson(StreamId stream, string detector, in ScoredReading reading, string origin)
    {
        using var buffer = new MemoryStream(256);
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString(OriginAttribute, origin);
            json.WriteString("site", stream.Site);
            json.WriteString("device", stream.Device);
            json.WriteString("metric", stream.Metric);
            json.WriteNumber("ts", reading.TimestampMs);
            json.WriteNumber("offset", reading.Offset);
            json.WriteNumber("value", reading.Value);
            NumberOrNull(json, "prediction", reading.Prediction);
            NumberOrNull(json, "low", reading.Low);
            NumberOrNull(json, "high", reading.High);
            json.WriteNumber("score", reading.Grade);
            json.WriteBoolean("anomaly", reading.OutOfBand);
            if (reading.Episode > 0)
            {
                json.WriteString("episodeId", AlertIds.For(stream.Key, reading.Episode));
            }
            else
            {
                json.WriteNull("episodeId");
            }

            json.WriteString("detector", detector);
            WriteModel(json, reading.Model);

            json.WriteEndObject();
        }

        return buffer.ToArray();
    }

    private static void WriteModel(Utf8JsonWriter json, string? model)
    {
        if (!string.IsNullOrEmpty(model))
        {
            json.WriteString("model", model);
        }
        else
        {
            json.WriteNull("model");
        }
    }

    /// <summary>Refused readings as a dead letter: the readings as a JSON array, the partitions in the detail.</summary>
    public static DeadLetter RefusedDeadLetter(RefusedReadings refused, string topic, long nowMs)
    {
        var slice = refused.Slice;
        var stream = StreamId.Parse(slice.SensorId);
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartArray();
            for (var i = 0; i < slice.Values.Length; i++)
            {
                json.WriteStartObject();
                json.WriteString("site", stream.Site);
                json.WriteString("device", stream.Device);
                json.WriteString("metric", stream.Metric);
                json.WriteNumber("ts", slice.Timestamps.Span[i]);
                json.WriteNumber("value", slice.Values.Span[i]);
                json.WriteEndObject();
            }

            json.WriteEndArray();
        }

        return new DeadLetter(
            "sensor",
            topic,
            DeadLetterReason.WrongPartition,
            string.Create(CultureInfo.InvariantCulture,
                $"stream bound to partition {refused.BoundPartition}, arrived on partition {slice.PartitionId} (offsets {slice.FirstOffset}-{slice.LastOffset})"),
            buffer.ToArray(),
            nowMs);
    }

    public static string FormatTime(long timestampMs) =>
        DateTimeOffset.FromUnixTimeMilliseconds(timestampMs).ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture);

    private static void NumberOrNull(Utf8JsonWriter json, string name, double value)
    {
        if (double.IsFinite(value))
        {
            json.WriteNumber(name, value);
        }
        else
        {
            json.WriteNull(name);
        }
    }
}
