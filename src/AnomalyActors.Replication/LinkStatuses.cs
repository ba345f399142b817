using System.Collections.Concurrent;
using System.Text.Json;

namespace AnomalyActors.Replication;

/// <summary>
/// Each site link's health as its heartbeats on the global Kafka's status topic say, so that every
/// member of the global layer shows every link, wherever the link runs. A link not heard of for three
/// heartbeats and 2 s (its member gone, the link moving to another member) shows as unreachable,
/// behind by at least that long.
/// </summary>
public sealed class LinkStatuses(IEnumerable<string> sites, TimeSpan heartbeatInterval)
{
    private readonly string[] _sites = [.. sites];
    private readonly ConcurrentDictionary<string, LinkStatus> _latest = new(StringComparer.Ordinal);

    /// <summary>A heartbeat record's value; records of unknown sites or older than the one held are ignored.</summary>
    public void Apply(byte[] value)
    {
        LinkStatus? status;
        try
        {
            status = JsonSerializer.Deserialize<LinkStatus>(value, JsonSerializerOptions.Web);
        }
        catch (JsonException)
        {
            return;
        }

        if (status is null || Array.IndexOf(_sites, status.Site) < 0)
        {
            return;
        }

        _latest.AddOrUpdate(status.Site, status, (_, held) => status.AtMs >= held.AtMs ? status : held);
    }

    /// <summary>Every configured site's link, in the configured order, as of <paramref name="nowMs"/>.</summary>
    public IReadOnlyList<LinkStatus> Current(long nowMs)
    {
        // Three heartbeats, and room for a reader that fetches them in bursts.
        var silentAfterMs = (long)(3 * heartbeatInterval.TotalMilliseconds) + 2_000;
        return [.. _sites.Select(site =>
        {
            if (!_latest.TryGetValue(site, out var status))
            {
                return new LinkStatus(site, false, 0, 0, 0, 0, 0);
            }

            var silentMs = nowMs - status.AtMs;
            return silentMs <= silentAfterMs
                ? status
                : status with { Reachable = false, LagSeconds = Math.Max(status.LagSeconds, silentMs / 1000.0) };
        })];
    }
}
