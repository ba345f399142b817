using System.Globalization;
using System.Text;
using System.Text.Json;
using AnomalyActors.Core.Protocol;
using AnomalyActors.Core.DeadLetters;

namespace AnomalyActors.Ingestion.Payload;

/// <summary>
/// Turns a message (topic + payload) into readings with the first format whose topic filter
/// matches, or says why it cannot. A message is all or nothing: it adds every one of its readings
/// or none. Not thread-safe (it reuses buffers): one parser per stream stage.
/// </summary>
public sealed class PayloadParser
{
    // Topics repeat (one per device and metric), so their resolution is cached; the bound only
    // protects against a client that invents topics.
    private const int MaxCachedTopics = 100_000;

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private readonly FormatPlan[] _formats;
    private readonly Dictionary<string, TopicPlan> _topics = new(StringComparer.Ordinal);
    private double[] _values = new double[8];

    public PayloadParser(IReadOnlyList<PayloadFormat> formats, int maxPayloadBytes)
    {
        ArgumentNullException.ThrowIfNull(formats);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxPayloadBytes, 1);
        _formats = formats.Select(f => new FormatPlan(f)).ToArray();
        MaxPayloadBytes = maxPayloadBytes;
    }

    public int MaxPayloadBytes { get; }

    public IReadOnlyList<PayloadFormat> Formats => _formats.Select(f => f.Format).ToArray();

    public ParseOutcome Parse(string topic, ReadOnlySpan<byte> payload, long arrivalMs, List<Reading> output)
    {
        ArgumentNullException.ThrowIfNull(topic);
        ArgumentNullException.ThrowIfNull(output);
        if (payload.Length > MaxPayloadBytes)
        {
            return ParseOutcome.Fail(DeadLetterReason.PayloadTooLarge, $"{payload.Length} bytes, maximum {MaxPayloadBytes}");
        }

        if (!_topics.TryGetValue(topic, out var plan))
        {
            plan = Resolve(topic);
            if (_topics.Count >= MaxCachedTopics)
            {
                _topics.Clear();
            }

            _topics[topic] = plan;
        }

        if (plan.Error is { } error)
        {
            return error;
        }

        return plan.Format.Format.Kind switch
        {
            PayloadKind.Json => ParseJson(plan, payload, arrivalMs, output),
            PayloadKind.Delimited => ParseDelimited(plan, payload, arrivalMs, output),
            _ => ParseNumber(plan, payload, arrivalMs, output),
        };
    }

    private TopicPlan Resolve(string topic)
    {
        var levels = topic.Split('/');
        foreach (var format in _formats)
        {
            if (format.Format.Match.Matches(levels))
            {
                return TopicPlan.For(format, levels);
            }
        }

        return TopicPlan.Failed(ParseOutcome.Fail(DeadLetterReason.UnknownFormat, $"no format matches topic '{topic}'"));
    }

    private ParseOutcome ParseJson(TopicPlan plan, ReadOnlySpan<byte> payload, long arrivalMs, List<Reading> output)
    {
        var format = plan.Format;
        var metricCount = format.MetricFields.Length;
        var values = Values(metricCount);
        Span<bool> seen = stackalloc bool[metricCount];
        string? site = plan.Site, device = plan.Device;
        long timestamp = arrivalMs;
        var timestampSeen = format.Format.Timestamp.FromArrival || format.Format.Timestamp.Optional;

        try
        {
            var reader = new Utf8JsonReader(payload, new JsonReaderOptions { MaxDepth = 64 });
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return ParseOutcome.Fail(DeadLetterReason.InvalidJson, "payload is not a JSON object");
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var metric = -1;
                for (var i = 0; i < metricCount; i++)
                {
                    if (reader.ValueTextEquals(format.MetricFields[i]))
                    {
                        metric = i;
                        break;
                    }
                }

                var isSite = metric < 0 && format.SiteField is { } siteField && reader.ValueTextEquals(siteField);
                var isDevice = metric < 0 && !isSite && format.DeviceField is { } deviceField && reader.ValueTextEquals(deviceField);
                var isTime = metric < 0 && !isSite && !isDevice && format.TimestampField is { } timeField && reader.ValueTextEquals(timeField);
                reader.Read();

                if (metric >= 0)
                {
                    var failure = JsonNumber(ref reader, format.Format.Metrics[metric], out values[metric]);
                    if (failure is { } f)
                    {
                        return f;
                    }

                    seen[metric] = true;
                }
                else if (isSite || isDevice)
                {
                    var part = JsonKeyPart(ref reader);
                    var name = isSite ? format.Format.Site.Name : format.Format.Device.Name;
                    if (!ValidKeyPart(part))
                    {
                        return ParseOutcome.Fail(DeadLetterReason.InvalidKey, $"field '{name}' is not a non-empty name without '/'");
                    }

                    if (isSite)
                    {
                        site = part;
                    }
                    else
                    {
                        device = part;
                    }
                }
                else if (isTime)
                {
                    var failure = JsonTimestamp(ref reader, format.Format.Timestamp, out timestamp);
                    if (failure is { } f)
                    {
                        return f;
                    }

                    timestampSeen = true;
                }
                else
                {
                    reader.Skip();
                }
            }

            if (reader.TokenType != JsonTokenType.EndObject || reader.Read())
            {
                return ParseOutcome.Fail(DeadLetterReason.InvalidJson, "content after the JSON object");
            }
        }
        catch (JsonException e)
        {
            return ParseOutcome.Fail(DeadLetterReason.InvalidJson, FirstLine(e.Message));
        }

        for (var i = 0; i < metricCount; i++)
        {
            if (!seen[i])
            {
                return ParseOutcome.Fail(DeadLetterReason.MissingField, $"metric field '{format.Format.Metrics[i]}' is missing");
            }
        }

        if (site is null)
        {
            return ParseOutcome.Fail(DeadLetterReason.MissingField, $"site field '{format.Format.Site.Name}' is missing");
        }

        if (device is null)
        {
            return ParseOutcome.Fail(DeadLetterReason.MissingField, $"device field '{format.Format.Device.Name}' is missing");
        }

        if (!timestampSeen)
        {
            return ParseOutcome.Fail(DeadLetterReason.MissingField, $"timestamp field '{format.Format.Timestamp.Field}' is missing");
        }

        return Emit(plan, site, device, timestamp, values, output);
    }

    private ParseOutcome ParseDelimited(TopicPlan plan, ReadOnlySpan<byte> payload, long arrivalMs, List<Reading> output)
    {
        var format = plan.Format;
        if (!TryDecode(payload, out var text))
        {
            return ParseOutcome.Fail(DeadLetterReason.InvalidText, "payload is not valid UTF-8 text");
        }

        var fields = text.TrimEnd('\r', '\n').Split(format.Format.Delimiter);
        var columns = format.Format.Columns;
        if (fields.Length < columns.Count)
        {
            return ParseOutcome.Fail(DeadLetterReason.MissingField, $"{fields.Length} fields, expected {columns.Count} separated by '{format.Format.Delimiter}'");
        }

        var values = Values(format.MetricColumns.Length);
        for (var i = 0; i < format.MetricColumns.Length; i++)
        {
            var failure = TextNumber(fields[format.MetricColumns[i]].AsSpan().Trim(), format.Format.Metrics[i], out values[i]);
            if (failure is { } f)
            {
                return f;
            }
        }

        var site = plan.Site ?? fields[format.SiteColumn].Trim();
        var device = plan.Device ?? fields[format.DeviceColumn].Trim();
        if (!ValidKeyPart(site) || !ValidKeyPart(device))
        {
            return ParseOutcome.Fail(DeadLetterReason.InvalidKey, "site or device column is empty or contains '/'");
        }

        var timestamp = arrivalMs;
        if (format.TimestampColumn >= 0)
        {
            var failure = TextTimestamp(fields[format.TimestampColumn].Trim(), format.Format.Timestamp, out timestamp);
            if (failure is { } f)
            {
                return f;
            }
        }

        return Emit(plan, site, device, timestamp, values, output);
    }

    private ParseOutcome ParseNumber(TopicPlan plan, ReadOnlySpan<byte> payload, long arrivalMs, List<Reading> output)
    {
        var values = Values(1);
        ParseOutcome? failure;
        if (payload.Length <= MaxStackNumberBytes && Ascii.IsValid(payload))
        {
            // The usual bare number: widened on the stack instead of decoded into a string per message.
            Span<char> chars = stackalloc char[payload.Length];
            Ascii.ToUtf16(payload, chars, out var written);
            failure = TextNumber(chars[..written].Trim(), "payload", out values[0]);
        }
        else if (!TryDecode(payload, out var text))
        {
            return ParseOutcome.Fail(DeadLetterReason.InvalidText, "payload is not valid UTF-8 text");
        }
        else
        {
            failure = TextNumber(text.AsSpan().Trim(), "payload", out values[0]);
        }

        return failure ?? Emit(plan, plan.Site!, plan.Device!, arrivalMs, values, output);
    }

    private static ParseOutcome Emit(TopicPlan plan, string site, string device, long timestamp, double[] values, List<Reading> output)
    {
        var keys = plan.Keys is { } cached && ReferenceEquals(site, plan.Site) && ReferenceEquals(device, plan.Device)
            ? cached
            : plan.KeysFor(site, device);
        for (var i = 0; i < keys.Length; i++)
        {
            output.Add(new Reading(keys[i], timestamp, values[i]));
        }

        return ParseOutcome.Success(keys.Length);
    }

    private double[] Values(int count)
    {
        if (_values.Length < count)
        {
            _values = new double[count];
        }

        return _values;
    }

    private static ParseOutcome? JsonNumber(ref Utf8JsonReader reader, string field, out double value)
    {
        value = 0;
        switch (reader.TokenType)
        {
            case JsonTokenType.Number:
                if (!reader.TryGetDouble(out value) || !double.IsFinite(value))
                {
                    return ParseOutcome.Fail(DeadLetterReason.NotFinite, $"metric field '{field}' is out of the range of a double");
                }

                return null;
            case JsonTokenType.String:
                return TextNumber(reader.GetString().AsSpan().Trim(), field, out value);
            default:
                reader.Skip();
                return ParseOutcome.Fail(DeadLetterReason.NotNumeric, $"metric field '{field}' is {reader.TokenType switch
                {
                    JsonTokenType.True or JsonTokenType.False => "a boolean",
                    JsonTokenType.Null => "null",
                    JsonTokenType.EndArray => "an array",
                    _ => "an object",
                }}, not a number");
        }
    }

    private static ParseOutcome? TextNumber(ReadOnlySpan<char> text, string field, out double value)
    {
        if (ShortDecimal.TryParse(text, out value))
        {
            return null;
        }

        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out value))
        {
            return ParseOutcome.Fail(DeadLetterReason.NotNumeric, $"'{field}' is not a number: '{Clip(text)}'");
        }

        return double.IsFinite(value)
            ? null
            : ParseOutcome.Fail(DeadLetterReason.NotFinite, $"'{field}' is {Clip(text)}");
    }

    private static string? JsonKeyPart(ref Utf8JsonReader reader)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.String:
                return reader.GetString();
            case JsonTokenType.Number:
                return Encoding.UTF8.GetString(reader.ValueSpan);
            default:
                reader.Skip();
                return null;
        }
    }

    private static ParseOutcome? JsonTimestamp(ref Utf8JsonReader reader, TimestampSource source, out long timestampMs)
    {
        timestampMs = 0;
        switch (reader.TokenType)
        {
            case JsonTokenType.String:
                return TextTimestamp(reader.GetString() ?? string.Empty, source, out timestampMs);
            case JsonTokenType.Number when reader.TryGetDouble(out var number):
                return NumericTimestamp(number, source, out timestampMs);
            default:
                reader.Skip();
                return ParseOutcome.Fail(DeadLetterReason.InvalidTimestamp, $"timestamp field '{source.Field}' is neither text nor a number");
        }
    }

    private static ParseOutcome? TextTimestamp(string text, TimestampSource source, out long timestampMs)
    {
        if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var number))
        {
            return NumericTimestamp(number, source, out timestampMs);
        }

        // ISO-8601 without an offset (the fan sensor's "2019-09-09T10:00:00") is taken as UTC.
        if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AllowWhiteSpaces, out var time))
        {
            timestampMs = time.ToUnixTimeMilliseconds();
            return null;
        }

        timestampMs = 0;
        return ParseOutcome.Fail(DeadLetterReason.InvalidTimestamp, $"timestamp field '{source.Field}' is not ISO-8601 or a number: '{Clip(text)}'");
    }

    private static ParseOutcome? NumericTimestamp(double number, TimestampSource source, out long timestampMs)
    {
        var ms = source.Unit == TimestampUnit.Seconds ? number * 1000 : number;
        // Years 1970-9999: anything else is a unit mix-up, not a time.
        if (!double.IsFinite(ms) || ms < 0 || ms > 253_402_300_799_999)
        {
            timestampMs = 0;
            return ParseOutcome.Fail(DeadLetterReason.InvalidTimestamp, $"timestamp field '{source.Field}' is out of range: {number.ToString(CultureInfo.InvariantCulture)}");
        }

        timestampMs = (long)ms;
        return null;
    }

    private const int MaxStackNumberBytes = 128;

    private static bool TryDecode(ReadOnlySpan<byte> payload, out string text)
    {
        try
        {
            text = StrictUtf8.GetString(payload);
            return true;
        }
        catch (DecoderFallbackException)
        {
            text = string.Empty;
            return false;
        }
    }

    internal static bool ValidKeyPart(string? part) =>
        !string.IsNullOrWhiteSpace(part) && !part.Contains('/');

    private static string Clip(ReadOnlySpan<char> text) => text.Length <= 40 ? text.ToString() : string.Concat(text[..40], "...");

    private static string FirstLine(string message)
    {
        var newline = message.IndexOf('\n', StringComparison.Ordinal);
        return newline < 0 ? message : message[..newline].TrimEnd('\r');
    }

    /// <summary>A format with its field names pre-encoded and column positions resolved.</summary>
    private sealed class FormatPlan
    {
        public FormatPlan(PayloadFormat format)
        {
            Format = format;
            MetricFields = format.Metrics.Select(Encoding.UTF8.GetBytes).ToArray();
            SiteField = format.Site.Origin == ValueOrigin.Field ? Encoding.UTF8.GetBytes(format.Site.Name) : null;
            DeviceField = format.Device.Origin == ValueOrigin.Field ? Encoding.UTF8.GetBytes(format.Device.Name) : null;
            TimestampField = format.Timestamp.Field is { } t ? Encoding.UTF8.GetBytes(t) : null;
            var columns = format.Columns.ToList();
            MetricColumns = format.Kind == PayloadKind.Delimited ? format.Metrics.Select(m => columns.IndexOf(m)).ToArray() : [];
            SiteColumn = format.Site.Origin == ValueOrigin.Field ? columns.IndexOf(format.Site.Name) : -1;
            DeviceColumn = format.Device.Origin == ValueOrigin.Field ? columns.IndexOf(format.Device.Name) : -1;
            TimestampColumn = format.Timestamp.Field is { } field ? columns.IndexOf(field) : -1;
        }

        public PayloadFormat Format { get; }
        public byte[][] MetricFields { get; }
        public byte[]? SiteField { get; }
        public byte[]? DeviceField { get; }
        public byte[]? TimestampField { get; }
        public int[] MetricColumns { get; }
        public int SiteColumn { get; }
        public int DeviceColumn { get; }
        public int TimestampColumn { get; }
    }

    /// <summary>What a topic resolves to: its format and the key parts the topic itself supplies.</summary>
    private sealed class TopicPlan
    {
        private TopicPlan(FormatPlan format, string? site, string? device, string[] metrics, ParseOutcome? error)
        {
            Format = format;
            Site = site;
            Device = device;
            MetricNames = metrics;
            Error = error;
            Keys = site is not null && device is not null && error is null ? KeysFor(site, device) : null;
        }

        public FormatPlan Format { get; }
        public string? Site { get; }
        public string? Device { get; }
        public string[] MetricNames { get; }
        public ParseOutcome? Error { get; }

        /// <summary>Stream keys when site and device do not depend on the payload.</summary>
        public string[]? Keys { get; }

        public string[] KeysFor(string site, string device)
        {
            var keys = new string[MetricNames.Length];
            for (var i = 0; i < keys.Length; i++)
            {
                keys[i] = string.Concat(site, "/", device, "/", MetricNames[i]);
            }

            return keys;
        }

        public static TopicPlan Failed(ParseOutcome error) => new(null!, null, null, [], error);

        public static TopicPlan For(FormatPlan plan, string[] levels)
        {
            var format = plan.Format;
            string? Part(ValueSource source, string role, out ParseOutcome? error)
            {
                error = null;
                switch (source.Origin)
                {
                    case ValueOrigin.Constant:
                        return source.Name;
                    case ValueOrigin.TopicLevel when source.TopicLevel < levels.Length && ValidKeyPart(levels[source.TopicLevel]):
                        return levels[source.TopicLevel];
                    case ValueOrigin.TopicLevel:
                        error = ParseOutcome.Fail(DeadLetterReason.InvalidKey,
                            $"{role} is topic level {source.TopicLevel}, which topic '{string.Join('/', levels)}' lacks or leaves empty");
                        return null;
                    default:
                        return null;
                }
            }

            var site = Part(format.Site, "site", out var siteError);
            var device = Part(format.Device, "device", out var deviceError);
            string[] metrics;
            ParseOutcome? metricError = null;
            if (format.Kind == PayloadKind.Number)
            {
                var metric = Part(format.MetricName!, "metric", out metricError);
                metrics = metric is null ? [] : [metric];
            }
            else
            {
                metrics = format.Metrics.ToArray();
            }

            return new TopicPlan(plan, site, device, metrics, siteError ?? deviceError ?? metricError);
        }
    }
}
