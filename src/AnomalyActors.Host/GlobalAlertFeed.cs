using System.Collections.Concurrent;
using System.Text.Json;
using AnomalyActors.Core.Results;
using AnomalyActors.Web.Alerts;

namespace AnomalyActors.Host;

/// <summary>
/// Puts every site's copied alerts on the global board, and checks that they are that site's. Two
/// mistakes would make the global view wrong without anyone noticing, so each is counted per link and
/// reported once per link, loudly:
/// <list type="bullet">
/// <item>A link whose records were produced by another site (the alert's <c>origin</c>): the link's
/// bootstrap servers point at the wrong site's Kafka, and the view files that site's alerts under this one.</item>
/// <item>A site whose alerts name another site's streams (devices publishing under a site name that is
/// not their site's): an alert id is unique within the stream names of the site that raised it, so
/// such alerts could share ids with that other site's, and the board would show two alerts as one.</item>
/// </list>
/// </summary>
internal sealed class GlobalAlertFeed(AlertBoard board, IReadOnlyDictionary<string, string> siteOfTopic, Action<string> warn)
{
    private readonly ConcurrentDictionary<string, long> _foreign = new(StringComparer.Ordinal);

    /// <summary>Alerts of a site's link that another site produced or that name another site's streams, by the link's site.</summary>
    public IReadOnlyDictionary<string, long> Foreign => _foreign;

    public void Apply(string topic, byte[] value)
    {
        board.ApplyJson(value);
        if (!siteOfTopic.TryGetValue(topic, out var linked))
        {
            return;
        }

        var (streamSite, origin) = SitesOf(value);
        string? problem = null;
        if (origin is not null && origin != linked)
        {
            problem = $"The link of site {linked} copies alerts produced by site '{origin}': its bootstrap-servers point at that site's Kafka, and the global view files them under {linked}. Check anomaly-actors.global.sites.";
        }
        else if (streamSite is not null && streamSite != linked)
        {
            problem = $"Site {linked}'s alerts name streams of site '{streamSite}': their alert ids could be another site's too, and the global view would show two alerts as one. Let each site's devices publish under their site's name (sensors/{linked}/<device>/<metric>).";
        }

        if (problem is not null && _foreign.AddOrUpdate(linked, 1, (_, n) => n + 1) == 1)
        {
            warn(problem);
        }
    }

    /// <summary>The stream's site and the producing site of an alert record (either null when absent).</summary>
    private static (string? StreamSite, string? Origin) SitesOf(byte[] value)
    {
        string? site = null;
        string? origin = null;
        try
        {
            var reader = new Utf8JsonReader(value);
            while (reader.Read())
            {
                if (reader.TokenType == JsonTokenType.PropertyName && reader.CurrentDepth == 1)
                {
                    var isSite = reader.ValueTextEquals("site"u8);
                    var isOrigin = reader.ValueTextEquals(ResultRecords.OriginAttribute);
                    reader.Read();
                    if (reader.TokenType == JsonTokenType.String && (isSite || isOrigin))
                    {
                        (isSite ? ref site : ref origin) = reader.GetString();
                    }
                    else if (reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray)
                    {
                        reader.Skip();
                    }
                }
            }
        }
        catch (JsonException)
        {
        }

        return (site, origin);
    }
}
