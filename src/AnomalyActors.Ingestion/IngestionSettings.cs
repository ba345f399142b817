using Akka.Configuration;
using AnomalyActors.Core.Configuration;
using AnomalyActors.Ingestion.Payload;

namespace AnomalyActors.Ingestion;

/// <summary>The <c>anomaly-actors.ingestion</c> section, parsed once: formats, limits, batching.</summary>
public sealed record IngestionSettings(
    int MaxPayloadBytes,
    int MaxTopicLength,
    int MaxStreamKeyLength,
    int BatchMaxMessages,
    TimeSpan BatchMaxDelay,
    int MaxBatchesInFlight,
    TimeSpan RetryBackoff,
    IReadOnlyList<PayloadFormat> Formats)
{
    public const string Path = "anomaly-actors.ingestion";

    public PayloadParser CreateParser() => new(Formats, MaxPayloadBytes);

    /// <param name="root">The whole configuration.</param>
    /// <param name="source">The configuration's origin, named in errors.</param>
    public static IngestionSettings FromConfig(Config root, string source)
    {
        var c = new SettingsReader(root, Path, source);
        var formats = ReadFormats(c.Section, source);
        if (formats.Count == 0)
        {
            throw new ConfigurationException($"'{Path}.formats' is empty: no message could be read ({source}).");
        }

        return new IngestionSettings(
            c.PositiveInt("max-payload-bytes"),
            c.PositiveInt("max-topic-length"),
            c.Int("max-stream-key-length", minimum: 5, maximum: 240),
            c.PositiveInt("batch.max-messages"),
            c.PositiveDuration("batch.max-delay"),
            c.PositiveInt("batch.max-in-flight"),
            c.PositiveDuration("batch.retry-backoff"),
            formats);
    }

    private static List<PayloadFormat> ReadFormats(Config section, string source)
    {
        var list = new List<PayloadFormat>();
        var value = section.GetValue("formats");
        if (value is null || value.IsEmpty)
        {
            return list;
        }

        var i = 0;
        foreach (var entry in value.GetArray())
        {
            var key = $"{Path}.formats[{i++}]";
            var c = new Config(new Akka.Configuration.Hocon.HoconRoot(entry));
            try
            {
                var kindName = c.GetString("type", string.Empty) ?? string.Empty;
                var kind = kindName.ToLowerInvariant() switch
                {
                    "json" => PayloadKind.Json,
                    "delimited" => PayloadKind.Delimited,
                    "number" => PayloadKind.Number,
                    _ => throw new FormatException($"'type' is '{kindName}'; expected json, delimited or number."),
                };
                var delimiter = c.GetString("delimiter", ";") ?? ";";
                if (delimiter.Length != 1)
                {
                    throw new FormatException($"'delimiter' is '{delimiter}'; expected one character.");
                }

                var metricName = c.GetString("metric", string.Empty);
                list.Add(new PayloadFormat(
                    c.GetString("name", $"format-{i}") ?? $"format-{i}",
                    new TopicFilter(Text(c, "match")),
                    kind,
                    ValueSource.Parse(Text(c, "site"), $"{key}.site"),
                    ValueSource.Parse(Text(c, "device"), $"{key}.device"),
                    c.HasPath("metrics") ? c.GetStringList("metrics").ToArray() : [],
                    string.IsNullOrWhiteSpace(metricName) ? null : ValueSource.Parse(metricName, $"{key}.metric"),
                    Timestamp(c),
                    delimiter[0],
                    c.HasPath("columns") ? c.GetStringList("columns").ToArray() : null));
            }
            catch (Exception e) when (e is FormatException or ArgumentException or ConfigurationException)
            {
                throw new ConfigurationException($"Invalid payload format '{key}' ({source}): {e.Message}", e);
            }
        }

        return list;
    }

    private static TimestampSource Timestamp(Config c)
    {
        var text = c.GetString("timestamp", "arrival") ?? "arrival";
        var unitName = c.GetString("timestamp-unit", "ms") ?? "ms";
        var unit = unitName switch
        {
            "ms" => TimestampUnit.Milliseconds,
            "s" => TimestampUnit.Seconds,
            _ => throw new FormatException($"'timestamp-unit' is '{unitName}'; expected ms or s."),
        };
        if (text == "arrival")
        {
            return TimestampSource.Arrival;
        }

        if (text.StartsWith("field:", StringComparison.Ordinal) && text.Length > "field:".Length)
        {
            return new TimestampSource(text["field:".Length..], unit, c.GetBoolean("timestamp-optional", false));
        }

        throw new FormatException($"'timestamp' is '{text}'; expected arrival or field:NAME.");
    }

    private static string Text(Config c, string key)
    {
        var value = c.GetString(key, string.Empty);
        return string.IsNullOrWhiteSpace(value) ? throw new FormatException($"'{key}' is missing or empty.") : value;
    }
}
