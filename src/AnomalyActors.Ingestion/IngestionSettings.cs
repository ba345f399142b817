using Akka.Configuration;
using AnomalyActors.Core.Configuration;
using AnomalyActors.Core.Events;
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
    public static IngestionSettings FromConfig(Config root, ConfigOrigin source)
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
            // A partition tells a retried batch from a resend only within this many of its source's
            // newest batches, so no source may keep more in flight.
            c.Int("batch.max-in-flight", minimum: 1, maximum: SourceMark.Window),
            c.PositiveDuration("batch.retry-backoff"),
            formats);
    }

    private static List<PayloadFormat> ReadFormats(Config section, ConfigOrigin source)
    {
        var list = new List<PayloadFormat>();
        source.Consulted($"{Path}.formats");
        var value = section.GetValue("formats");
        if (value is null || value.IsEmpty)
        {
            return list;
        }

        var i = 0;
        foreach (var entry in value.GetArray())
        {
            var key = $"{Path}.formats[{i++}]";
            var c = SettingsReader.ForBlock(new Config(new Akka.Configuration.Hocon.HoconRoot(entry)), key, source);
            try
            {
                var kindName = c.OptionalText("type", string.Empty)!;
                var kind = kindName.ToLowerInvariant() switch
                {
                    "json" => PayloadKind.Json,
                    "delimited" => PayloadKind.Delimited,
                    "number" => PayloadKind.Number,
                    _ => throw new FormatException($"'type' is '{kindName}'; expected json, delimited or number."),
                };
                var delimiter = c.OptionalText("delimiter", ";")!;
                if (delimiter.Length != 1)
                {
                    throw new FormatException($"'delimiter' is '{delimiter}'; expected one character.");
                }

                var metricName = c.OptionalText("metric");
                list.Add(new PayloadFormat(
                    c.OptionalText("name", $"format-{i}")!,
                    new TopicFilter(Text(c, "match")),
                    kind,
                    ValueSource.Parse(Text(c, "site"), $"{key}.site"),
                    ValueSource.Parse(Text(c, "device"), $"{key}.device"),
                    [.. c.List("metrics")],
                    metricName is null ? null : ValueSource.Parse(metricName, $"{key}.metric"),
                    Timestamp(c),
                    delimiter[0],
                    c.Has("columns") ? [.. c.List("columns")] : null));
                c.RejectUnknownKeys();
            }
            catch (Exception e) when (e is FormatException or ArgumentException or ConfigurationException)
            {
                throw new ConfigurationException($"Invalid payload format '{key}' ({source.Of(key)}): {e.Message}", e);
            }
        }

        return list;
    }

    private static TimestampSource Timestamp(SettingsReader c)
    {
        var text = c.OptionalText("timestamp", "arrival")!;
        var unitName = c.OptionalText("timestamp-unit", "ms")!;
        var unit = unitName switch
        {
            "ms" => TimestampUnit.Milliseconds,
            "s" => TimestampUnit.Seconds,
            _ => throw new FormatException($"'timestamp-unit' is '{unitName}'; expected ms or s."),
        };
        var optional = c.Flag("timestamp-optional", false);
        if (text == "arrival")
        {
            return TimestampSource.Arrival;
        }

        if (text.StartsWith("field:", StringComparison.Ordinal) && text.Length > "field:".Length)
        {
            return new TimestampSource(text["field:".Length..], unit, optional);
        }

        throw new FormatException($"'timestamp' is '{text}'; expected arrival or field:NAME.");
    }

    private static string Text(SettingsReader c, string key) =>
        c.OptionalText(key) ?? throw new FormatException($"'{key}' is missing or empty.");
}
