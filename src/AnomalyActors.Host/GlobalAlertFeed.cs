using System.Collections.Concurrent;
using System.Text.Json;
using AnomalyActors.Web.Alerts;

namespace AnomalyActors.Host;

/// <summary>
/// Puts every site's copied alerts on the global board. An alert id is unique within the stream names
/// of the site that raised it, and a stream's name starts with the site its devices publish under;
/// so a site whose alerts name another site's streams (devices publishing under a site name that is
/// not their site's) could share alert ids with that other site, and the board would show two
/// alerts as one. Such alerts are counted per link and reported once per link, loudly.
/// </summary>
internal sealed class GlobalAlertFeed(AlertBoard board, IReadOnlyDictionary<string, string> siteOfTopic, Action<string> warn)
{
    private readonly ConcurrentDictionary<string, long> _foreign = new(StringComparer.Ordinal);

    /// <summary>Alerts of a site's link that name streams of another site, by the link's site.</summary>
    public IReadOnlyDictionary<string, long> Foreign => _foreign;

    public void Apply(string topic, byte[] value)
    {
        board.ApplyJson(value);
        if (!siteOfTopic.TryGetValue(topic, out var origin) || StreamSiteOf(value) is not { } streamSite || streamSite == origin)
        {
            return;
        }

        if (_foreign.AddOrUpdate(origin, 1, (_, n) => n + 1) == 1)
        {
            warn($"Site {origin}'s alerts name streams of site '{streamSite}': their alert ids could be another site's too, and the global view would show two alerts as one. Let each site's devices publish under their site's name (sensors/{origin}/<device>/<metric>).");
        }
    }

    private static string? StreamSiteOf(byte[] value)
    {
        try
        {
            var reader = new Utf8JsonReader(value);
            while (reader.Read())
            {
                if (reader.TokenType == JsonTokenType.PropertyName && reader.CurrentDepth == 1 && reader.ValueTextEquals("site"u8) && reader.Read())
                {
                    return reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
                }

                if (reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray && reader.CurrentDepth > 0)
                {
                    reader.Skip();
                }
            }
        }
        catch (JsonException)
        {
        }

        return null;
    }
}
