using System.Text.Json;
using AnomalyActors.Core.Protocol;

// STAND-IN for issue 3's shared parsing (AnomalyActors.Ingestion on main), written against its
// announced API so the Kafka path can be built and tested before it lands. When it lands this file
// is deleted and `using AnomalyActors.Ingestion;` takes its place; nothing else should change.
namespace AnomalyActors.Node.Kafka;

public enum DeadLetterReason
{
    InvalidJson,
    MissingField,
    NotNumeric,
    NotFinite,
    PayloadTooLarge,
    UnknownFormat,
    InvalidTopic,
}

public readonly record struct ParseOutcome(DeadLetterReason? Reason, string? Detail)
{
    public static ParseOutcome Ok { get; } = new(null, null);

    public bool IsOk => Reason is null;

    public static ParseOutcome Fail(DeadLetterReason reason, string detail) => new(reason, detail);
}

/// <summary>A message that could not be turned into readings, kept with its raw bytes.</summary>
public sealed record DeadLetter(string Source, string Topic, DeadLetterReason Reason, string Detail, byte[] Payload, long ArrivalMs);

public interface IDeadLetterSink
{
    void Write(DeadLetter deadLetter);
}

public sealed class IngestionCounters
{
    private long _accepted;
    private readonly long[] _rejected = new long[Enum.GetValues<DeadLetterReason>().Length];

    public long Accepted => Interlocked.Read(ref _accepted);

    public long Rejected(DeadLetterReason reason) => Interlocked.Read(ref _rejected[(int)reason]);

    public long RejectedTotal => _rejected.Sum();

    public void Accept(int readings) => Interlocked.Add(ref _accepted, readings);

    public void Reject(DeadLetterReason reason) => Interlocked.Increment(ref _rejected[(int)reason]);
}

/// <summary>
/// JSON readings: one object {"site","device","metric","ts" (Unix ms, optional: arrival time),
/// "value"} or an array of them.
/// </summary>
public sealed class PayloadParser(int maxPayloadBytes = 1 << 20)
{
    public ParseOutcome Parse(string topic, ReadOnlySpan<byte> payload, long arrivalMs, List<Reading> output)
    {
        if (payload.Length > maxPayloadBytes)
        {
            return ParseOutcome.Fail(DeadLetterReason.PayloadTooLarge, $"{payload.Length} bytes");
        }

        var start = output.Count;
        try
        {
            var reader = new Utf8JsonReader(payload);
            using var document = JsonDocument.ParseValue(ref reader);
            var root = document.RootElement;
            var outcome = root.ValueKind switch
            {
                JsonValueKind.Object => One(root, arrivalMs, output),
                JsonValueKind.Array => Many(root, arrivalMs, output),
                _ => ParseOutcome.Fail(DeadLetterReason.UnknownFormat, "expected a JSON object or array"),
            };
            if (!outcome.IsOk)
            {
                output.RemoveRange(start, output.Count - start);
            }

            return outcome;
        }
        catch (JsonException e)
        {
            output.RemoveRange(start, output.Count - start);
            return ParseOutcome.Fail(DeadLetterReason.InvalidJson, e.Message);
        }
    }

    private static ParseOutcome Many(JsonElement array, long arrivalMs, List<Reading> output)
    {
        foreach (var item in array.EnumerateArray())
        {
            var outcome = item.ValueKind == JsonValueKind.Object
                ? One(item, arrivalMs, output)
                : ParseOutcome.Fail(DeadLetterReason.UnknownFormat, "array items must be objects");
            if (!outcome.IsOk)
            {
                return outcome;
            }
        }

        return ParseOutcome.Ok;
    }

    private static ParseOutcome One(JsonElement o, long arrivalMs, List<Reading> output)
    {
        if (!Text(o, "site", out var site) || !Text(o, "device", out var device) || !Text(o, "metric", out var metric))
        {
            return ParseOutcome.Fail(DeadLetterReason.MissingField, "site, device and metric are required strings");
        }

        if (site.Contains('/') || device.Contains('/') || metric.Contains('/'))
        {
            return ParseOutcome.Fail(DeadLetterReason.InvalidTopic, "site, device and metric may not contain '/'");
        }

        if (!o.TryGetProperty("value", out var value))
        {
            return ParseOutcome.Fail(DeadLetterReason.MissingField, "value is required");
        }

        if (value.ValueKind != JsonValueKind.Number || !value.TryGetDouble(out var number))
        {
            return ParseOutcome.Fail(DeadLetterReason.NotNumeric, "value is not a number");
        }

        if (!double.IsFinite(number))
        {
            return ParseOutcome.Fail(DeadLetterReason.NotFinite, "value is not finite");
        }

        var timestamp = arrivalMs;
        if (o.TryGetProperty("ts", out var ts) && (ts.ValueKind != JsonValueKind.Number || !ts.TryGetInt64(out timestamp)))
        {
            return ParseOutcome.Fail(DeadLetterReason.NotNumeric, "ts is not an integer of Unix milliseconds");
        }

        output.Add(new Reading(string.Concat(site, "/", device, "/", metric), timestamp, number));
        return ParseOutcome.Ok;
    }

    private static bool Text(JsonElement o, string name, out string text)
    {
        text = string.Empty;
        if (!o.TryGetProperty(name, out var element) || element.ValueKind != JsonValueKind.String)
        {
            return false;
        }

        text = element.GetString() ?? string.Empty;
        return !string.IsNullOrWhiteSpace(text);
    }
}
