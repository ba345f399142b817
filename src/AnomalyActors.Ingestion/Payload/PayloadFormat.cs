namespace AnomalyActors.Ingestion.Payload;

public enum PayloadKind
{
    /// <summary>A JSON object; configured fields are metrics, the key parts and the timestamp.</summary>
    Json,

    /// <summary>Delimited text (e.g. "12.5;21.0;40"); columns are named by position.</summary>
    Delimited,

    /// <summary>The payload is one number; the metric name comes from the topic or a constant.</summary>
    Number,
}

public enum ValueOrigin
{
    TopicLevel,
    Field,
    Constant,
}

/// <summary>
/// Where a part of the stream key comes from: <c>topic:N</c> (level N of the topic, from 0),
/// <c>field:NAME</c> (a payload field or named column) or <c>const:VALUE</c>.
/// </summary>
public sealed record ValueSource(ValueOrigin Origin, int TopicLevel, string Name)
{
    public static ValueSource Parse(string text, string key)
    {
        ArgumentNullException.ThrowIfNull(text);
        var colon = text.IndexOf(':', StringComparison.Ordinal);
        var kind = colon < 0 ? string.Empty : text[..colon];
        var rest = colon < 0 ? string.Empty : text[(colon + 1)..];
        switch (kind)
        {
            case "topic" when int.TryParse(rest, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var level):
                return new ValueSource(ValueOrigin.TopicLevel, level, string.Empty);
            case "field" when rest.Length > 0:
                return new ValueSource(ValueOrigin.Field, -1, rest);
            case "const" when rest.Length > 0 && !rest.Contains('/'):
                return new ValueSource(ValueOrigin.Constant, -1, rest);
            default:
                throw new FormatException(
                    $"'{key}' is '{text}'; expected topic:N (topic level, from 0), field:NAME or const:VALUE (without '/').");
        }
    }

    public override string ToString() => Origin switch
    {
        ValueOrigin.TopicLevel => $"topic:{TopicLevel}",
        ValueOrigin.Field => $"field:{Name}",
        _ => $"const:{Name}",
    };
}

public enum TimestampUnit
{
    Milliseconds,
    Seconds,
}

/// <summary>
/// The reading's time: arrival at the node, or a field (ISO-8601 text, or a number of
/// <see cref="Unit"/> since the Unix epoch). An optional field falls back to the arrival time when
/// a message lacks it; a present but unreadable one is still an error.
/// </summary>
public sealed record TimestampSource(string? Field, TimestampUnit Unit, bool Optional = false)
{
    public static readonly TimestampSource Arrival = new(null, TimestampUnit.Milliseconds);

    public bool FromArrival => Field is null;
}

/// <summary>
/// How messages on topics matching <see cref="Match"/> become readings. Each metric of a message
/// becomes one reading of stream site/device/metric.
/// </summary>
public sealed record PayloadFormat
{
    public PayloadFormat(
        string name,
        TopicFilter match,
        PayloadKind kind,
        ValueSource site,
        ValueSource device,
        IReadOnlyList<string> metrics,
        ValueSource? metricName,
        TimestampSource timestamp,
        char delimiter = ';',
        IReadOnlyList<string>? columns = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(match);
        ArgumentNullException.ThrowIfNull(site);
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(metrics);
        ArgumentNullException.ThrowIfNull(timestamp);
        Name = name;
        Match = match;
        Kind = kind;
        Site = site;
        Device = device;
        Timestamp = timestamp;
        Delimiter = delimiter;
        Columns = columns ?? [];

        switch (kind)
        {
            case PayloadKind.Number:
                if (metricName is null)
                {
                    throw new ArgumentException($"Format '{name}': a number payload needs 'metric' (topic:N or const:NAME).");
                }

                if (metricName.Origin == ValueOrigin.Field || site.Origin == ValueOrigin.Field || device.Origin == ValueOrigin.Field || !timestamp.FromArrival)
                {
                    throw new ArgumentException($"Format '{name}': a number payload has no fields; take site, device and metric from the topic or constants, and the time from arrival.");
                }

                MetricName = metricName;
                Metrics = [];
                break;

            case PayloadKind.Delimited:
                if (Columns.Count == 0)
                {
                    throw new ArgumentException($"Format '{name}': delimited text needs 'columns' (a name per position, \"\" to skip one).");
                }

                foreach (var field in ReferencedFields(site, device, timestamp))
                {
                    if (!Columns.Contains(field))
                    {
                        throw new ArgumentException($"Format '{name}': field '{field}' is not one of the columns [{string.Join(", ", Columns)}].");
                    }
                }

                // Without an explicit list every named column that is not a key or the time is a metric.
                var keyFields = ReferencedFields(site, device, timestamp).ToHashSet(StringComparer.Ordinal);
                Metrics = metrics.Count > 0
                    ? metrics
                    : Columns.Where(c => c.Length > 0 && !keyFields.Contains(c)).ToArray();
                foreach (var metric in Metrics)
                {
                    if (!Columns.Contains(metric))
                    {
                        throw new ArgumentException($"Format '{name}': metric '{metric}' is not one of the columns [{string.Join(", ", Columns)}].");
                    }
                }

                break;

            default:
                if (metrics.Count == 0)
                {
                    throw new ArgumentException($"Format '{name}': a JSON payload needs 'metrics' (the numeric fields to score).");
                }

                Metrics = metrics;
                break;
        }

        foreach (var metric in Metrics)
        {
            if (metric.Length == 0 || metric.Contains('/'))
            {
                throw new ArgumentException($"Format '{name}': metric name '{metric}' is empty or contains '/'.");
            }
        }
    }

    public string Name { get; }
    public TopicFilter Match { get; }
    public PayloadKind Kind { get; }
    public ValueSource Site { get; }
    public ValueSource Device { get; }

    /// <summary>Fields (JSON) or columns (delimited) scored as metrics; empty for number payloads.</summary>
    public IReadOnlyList<string> Metrics { get; }

    /// <summary>Metric name of a number payload.</summary>
    public ValueSource? MetricName { get; }

    public TimestampSource Timestamp { get; }
    public char Delimiter { get; }
    public IReadOnlyList<string> Columns { get; }

    private static IEnumerable<string> ReferencedFields(ValueSource site, ValueSource device, TimestampSource timestamp)
    {
        if (site.Origin == ValueOrigin.Field)
        {
            yield return site.Name;
        }

        if (device.Origin == ValueOrigin.Field)
        {
            yield return device.Name;
        }

        if (timestamp.Field is { } field)
        {
            yield return field;
        }
    }
}
