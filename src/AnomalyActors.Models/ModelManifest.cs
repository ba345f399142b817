using System.Globalization;
using System.Text.Json;
using AnomalyActors.Core.Models;

namespace AnomalyActors.Models;

/// <summary>The readings of one site a model was trained on: the first and last reading's time and how many.</summary>
public sealed record SiteRange(string Site, DateTimeOffset From, DateTimeOffset To, long Readings);

/// <summary>
/// What is known of a published model without trusting its model file: the checksum and size the
/// file must have (a copy that is partial or damaged on the way is refused), which sites and
/// times it was trained on (for people deciding whether to trust it), and the version that was
/// current before it (where a rollback returns to).
/// </summary>
/// <param name="Created">When the model was trained (UTC).</param>
/// <param name="Sha256">The SHA-256 of the model file's bytes, lower-case hex.</param>
/// <param name="Bytes">The model file's length.</param>
/// <param name="Previous">The version that was current when this one was published; null for the first.</param>
public sealed record ModelManifest(
    string Version,
    DateTimeOffset Created,
    string Sha256,
    long Bytes,
    IReadOnlyList<SiteRange> Sites,
    string? Previous)
{
    /// <summary>The layout of the manifest file this build reads and writes.</summary>
    public const int Format = 1;

    public byte[] ToJson()
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            json.WriteNumber("format", Format);
            json.WriteString("version", Version);
            json.WriteString("created", Time(Created));
            json.WriteString("sha256", Sha256);
            json.WriteNumber("bytes", Bytes);
            json.WriteStartArray("sites");
            foreach (var site in Sites)
            {
                json.WriteStartObject();
                json.WriteString("site", site.Site);
                json.WriteString("from", Time(site.From));
                json.WriteString("to", Time(site.To));
                json.WriteNumber("readings", site.Readings);
                json.WriteEndObject();
            }

            json.WriteEndArray();
            if (Previous is null)
            {
                json.WriteNull("previous");
            }
            else
            {
                json.WriteString("previous", Previous);
            }

            json.WriteEndObject();
        }

        return buffer.ToArray();
    }

    /// <summary>Reads a manifest file.</summary>
    /// <exception cref="FormatException">The bytes are not a complete manifest this build reads; the message says what is wrong.</exception>
    public static ModelManifest Parse(ReadOnlySpan<byte> utf8)
    {
        try
        {
            var reader = new Utf8JsonReader(utf8, new JsonReaderOptions { MaxDepth = 8 });
            using var document = JsonDocument.ParseValue(ref reader);
            var root = document.RootElement;
            var format = root.GetProperty("format").GetInt32();
            if (format != Format)
            {
                throw new FormatException($"manifest format {format} is not the one this build reads ({Format})");
            }

            var version = root.GetProperty("version").GetString();
            if (!GlobalModel.IsValidVersion(version))
            {
                throw new FormatException($"'{version}' is not a model version");
            }

            var sha256 = root.GetProperty("sha256").GetString() ?? string.Empty;
            if (sha256.Length != 64 || !sha256.All(char.IsAsciiHexDigitLower))
            {
                throw new FormatException($"'{sha256}' is not a SHA-256 in lower-case hex");
            }

            var bytes = root.GetProperty("bytes").GetInt64();
            if (bytes < 0)
            {
                throw new FormatException($"a model file cannot have {bytes} bytes");
            }

            var sites = new List<SiteRange>();
            foreach (var site in root.GetProperty("sites").EnumerateArray())
            {
                sites.Add(new SiteRange(
                    site.GetProperty("site").GetString() ?? throw new FormatException("a site has no name"),
                    ParseTime(site.GetProperty("from")),
                    ParseTime(site.GetProperty("to")),
                    site.GetProperty("readings").GetInt64()));
            }

            var previous = root.GetProperty("previous");
            string? previousVersion = null;
            if (previous.ValueKind != JsonValueKind.Null)
            {
                previousVersion = previous.GetString();
                if (!GlobalModel.IsValidVersion(previousVersion))
                {
                    throw new FormatException($"previous version '{previousVersion}' is not a model version");
                }
            }

            return new ModelManifest(version!, ParseTime(root.GetProperty("created")), sha256, bytes, sites, previousVersion);
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            throw new FormatException(e.Message, e);
        }
    }

    private static string Time(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture);

    private static DateTimeOffset ParseTime(JsonElement element) =>
        DateTimeOffset.Parse(element.GetString() ?? throw new FormatException("a time is null"), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal);
}
