using System.Globalization;
using System.Text.Json;
using AnomalyActors.Core.Protocol;
using AnomalyActors.Detection;

namespace AnomalyActors.Core.Models;

/// <summary>
/// What the fleet's archive says about one type of stream: the band a mature stream of the type
/// has, which a young stream of the type starts from (<see cref="Prior"/>), and what the training
/// saw (for people: how many streams and readings, and the level's spread across the fleet).
/// </summary>
/// <param name="Name">The type's name: a metric name, or a name given to <paramref name="Streams"/>.</param>
/// <param name="Streams">The streams of the type (a glob over <c>site/device/metric</c>), or null for every stream whose metric is <paramref name="Name"/>.</param>
public sealed record StreamTypeModel(
    string Name,
    StreamGlob? Streams,
    DetectorPrior Prior,
    long TrainedStreams,
    long TrainedReadings,
    double LevelP01,
    double LevelP50,
    double LevelP99)
{
    public bool Covers(StreamId stream) => Streams?.IsMatch(stream.Key) ?? string.Equals(stream.Metric, Name, StringComparison.Ordinal);
}

/// <summary>
/// A model trained on every site's archive and published as a version. Immutable; parsed and
/// checked as a whole (<see cref="Parse"/>), so a sensor only ever sees a complete, valid model.
/// </summary>
public sealed class GlobalModel
{
    /// <summary>The layout of the model file this build reads and writes.</summary>
    public const int Format = 1;

    private const int MaxVersionLength = 64;

    public GlobalModel(string version, DateTimeOffset created, IReadOnlyList<StreamTypeModel> types)
    {
        if (!IsValidVersion(version))
        {
            throw new ArgumentException($"'{version}' cannot name a model version: use 1-{MaxVersionLength} letters, digits, '.', '_' or '-', starting with a letter or digit.", nameof(version));
        }

        Version = version;
        Created = created;
        Types = types ?? throw new ArgumentNullException(nameof(types));
        foreach (var type in types)
        {
            if (type.Prior.Problem() is { } problem)
            {
                throw new ArgumentException($"Stream type '{type.Name}' has an unusable prior: {problem}.", nameof(types));
            }
        }
    }

    public string Version { get; }

    public DateTimeOffset Created { get; }

    /// <summary>In the order they are tried: the first type covering a stream is its type.</summary>
    public IReadOnlyList<StreamTypeModel> Types { get; }

    /// <summary>Model versions go into file names, records and events as they are.</summary>
    public static bool IsValidVersion(string? version) =>
        version is { Length: > 0 and <= MaxVersionLength }
        && char.IsAsciiLetterOrDigit(version[0])
        && version.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-');

    /// <summary>The type of <paramref name="stream"/>, or null when the model knows nothing of it.</summary>
    public StreamTypeModel? TypeOf(StreamId stream)
    {
        foreach (var type in Types)
        {
            if (type.Covers(stream))
            {
                return type;
            }
        }

        return null;
    }

    public byte[] ToJson()
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            json.WriteNumber("format", Format);
            json.WriteString("version", Version);
            json.WriteString("created", Created.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture));
            json.WriteStartArray("types");
            foreach (var type in Types)
            {
                json.WriteStartObject();
                json.WriteString("name", type.Name);
                if (type.Streams is { } streams)
                {
                    json.WriteString("streams", streams.Pattern);
                }

                json.WriteNumber("halfWidth", type.Prior.HalfWidth);
                json.WriteNumber("armAfter", type.Prior.ArmAfter);
                json.WriteNumber("trainedStreams", type.TrainedStreams);
                json.WriteNumber("trainedReadings", type.TrainedReadings);
                json.WriteNumber("levelP01", type.LevelP01);
                json.WriteNumber("levelP50", type.LevelP50);
                json.WriteNumber("levelP99", type.LevelP99);
                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WriteEndObject();
        }

        return buffer.ToArray();
    }

    /// <summary>Reads a model file; anything incomplete or out of range is refused with the reason.</summary>
    /// <exception cref="ModelFormatException">The bytes are not a complete, valid model.</exception>
    public static GlobalModel Parse(ReadOnlySpan<byte> utf8)
    {
        try
        {
            var reader = new Utf8JsonReader(utf8, new JsonReaderOptions { MaxDepth = 8 });
            using var document = JsonDocument.ParseValue(ref reader);
            var root = document.RootElement;
            var format = root.GetProperty("format").GetInt32();
            if (format != Format)
            {
                throw new ModelFormatException($"model format {format} is not the one this build reads ({Format})");
            }

            var types = new List<StreamTypeModel>();
            foreach (var type in root.GetProperty("types").EnumerateArray())
            {
                var name = type.GetProperty("name").GetString();
                if (string.IsNullOrWhiteSpace(name))
                {
                    throw new ModelFormatException("a stream type has no name");
                }

                var streams = type.TryGetProperty("streams", out var glob) && glob.ValueKind == JsonValueKind.String ? new StreamGlob(glob.GetString()!) : null;
                var prior = new DetectorPrior(type.GetProperty("halfWidth").GetDouble(), type.GetProperty("armAfter").GetInt64());
                if (prior.Problem() is { } problem)
                {
                    throw new ModelFormatException($"stream type '{name}': {problem}");
                }

                types.Add(new StreamTypeModel(
                    name,
                    streams,
                    prior,
                    type.GetProperty("trainedStreams").GetInt64(),
                    type.GetProperty("trainedReadings").GetInt64(),
                    type.GetProperty("levelP01").GetDouble(),
                    type.GetProperty("levelP50").GetDouble(),
                    type.GetProperty("levelP99").GetDouble()));
            }

            var version = root.GetProperty("version").GetString();
            if (!IsValidVersion(version))
            {
                throw new ModelFormatException($"'{version}' is not a model version");
            }

            var created = DateTimeOffset.Parse(root.GetProperty("created").GetString()!, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal);
            return new GlobalModel(version!, created, types);
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException or ArgumentException)
        {
            throw new ModelFormatException(e.Message, e);
        }
    }
}

/// <summary>A model file that is not a complete, valid model.</summary>
public sealed class ModelFormatException : Exception
{
    public ModelFormatException(string message)
        : base(message)
    {
    }

    public ModelFormatException(string message, Exception inner)
        : base(message, inner)
    {
    }
}
