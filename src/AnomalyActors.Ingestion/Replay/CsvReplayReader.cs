using System.Globalization;
using AnomalyActors.Core.Protocol;
using AnomalyActors.Ingestion.Payload;
using AnomalyActors.Core.DeadLetters;

namespace AnomalyActors.Ingestion.Replay;

public enum ReplayFormat
{
    /// <summary>Decide from the header line.</summary>
    Auto,

    /// <summary>timestamp,value (NAB): one stream named after the file.</summary>
    Nab,

    /// <summary>timestamp,sensor,parameter,value (Array of Things): stream key sensor_parameter.</summary>
    ArrayOfThings,
}

/// <summary>One data line of a replay file: a reading, or why the line is not one.</summary>
public readonly record struct ReplayRow(long Line, Reading Reading, bool Ok, DeadLetterReason Reason, string Detail, string Raw);

/// <summary>
/// Reads a CSV file as readings. Streams are replay/&lt;file name&gt;/value (NAB) and
/// replay/&lt;sensor&gt;_&lt;parameter&gt;/value (Array of Things). Bad lines come back with a reason
/// instead of stopping the file.
/// </summary>
public static class CsvReplayReader
{
    public const string Site = "replay";

    public static ReplayFormat Detect(string headerLine)
    {
        var columns = headerLine.Split(',').Select(c => c.Trim().Trim('"').ToLowerInvariant()).ToArray();
        return columns switch
        {
            ["timestamp", "value"] => ReplayFormat.Nab,
            ["timestamp", "sensor", "parameter", "value"] => ReplayFormat.ArrayOfThings,
            _ => throw new FormatException(
                $"Header '{headerLine}' is neither 'timestamp,value' (NAB) nor 'timestamp,sensor,parameter,value' (Array of Things)."),
        };
    }

    public static IEnumerable<ReplayRow> Read(string path, ReplayFormat format = ReplayFormat.Auto)
    {
        using var reader = new StreamReader(path);
        var header = reader.ReadLine() ?? throw new FormatException($"'{path}' is empty.");
        format = format == ReplayFormat.Auto ? Detect(header) : format;
        var stem = Path.GetFileNameWithoutExtension(path);
        var nabKey = PayloadParser.ValidKeyPart(stem) ? string.Concat(Site, "/", stem, "/value") : null;
        var keys = new Dictionary<(string, string), string>();
        long line = 1;
        while (reader.ReadLine() is { } raw)
        {
            line++;
            if (string.IsNullOrWhiteSpace(raw))
            {
                continue;
            }

            var fields = raw.Split(',');
            var expected = format == ReplayFormat.Nab ? 2 : 4;
            if (fields.Length < expected)
            {
                yield return Bad(line, DeadLetterReason.MissingField, $"{fields.Length} fields, expected {expected}", raw);
                continue;
            }

            if (!TryTimestamp(fields[0], out var timestamp))
            {
                yield return Bad(line, DeadLetterReason.InvalidTimestamp, $"timestamp '{Clip(fields[0])}' does not parse", raw);
                continue;
            }

            var valueText = fields[expected - 1].Trim().Trim('"');
            if (!double.TryParse(valueText, NumberStyles.Float, CultureInfo.InvariantCulture, out var value))
            {
                yield return Bad(line, DeadLetterReason.NotNumeric, $"value '{Clip(valueText)}' is not a number", raw);
                continue;
            }

            if (!double.IsFinite(value))
            {
                yield return Bad(line, DeadLetterReason.NotFinite, $"value is {valueText}", raw);
                continue;
            }

            string? key;
            if (format == ReplayFormat.Nab)
            {
                key = nabKey;
            }
            else
            {
                var sensor = fields[1].Trim().Trim('"');
                var parameter = fields[2].Trim().Trim('"');
                if (!keys.TryGetValue((sensor, parameter), out key))
                {
                    var device = string.Concat(sensor, "_", parameter);
                    key = PayloadParser.ValidKeyPart(sensor) && PayloadParser.ValidKeyPart(parameter) && PayloadParser.ValidKeyPart(device)
                        ? string.Concat(Site, "/", device, "/value")
                        : null;
                    keys[(sensor, parameter)] = key!;
                }
            }

            if (key is null)
            {
                yield return Bad(line, DeadLetterReason.InvalidKey, "stream name is empty or contains '/'", raw);
                continue;
            }

            yield return new ReplayRow(line, new Reading(key, timestamp, value), true, default, string.Empty, raw);
        }
    }

    private static bool TryTimestamp(string text, out long timestampMs)
    {
        text = text.Trim().Trim('"');
        if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var time))
        {
            timestampMs = time.ToUnixTimeMilliseconds();
            return true;
        }

        timestampMs = 0;
        return false;
    }

    private static ReplayRow Bad(long line, DeadLetterReason reason, string detail, string raw) =>
        new(line, default, false, reason, $"line {line}: {detail}", raw);

    private static string Clip(string text) => text.Length <= 40 ? text : string.Concat(text.AsSpan(0, 40), "...");
}
