using Akka.Configuration;
using AnomalyActors.Core.Configuration;

namespace AnomalyActors.Replication;

/// <summary>One site linked to the global layer: its name and its Kafka's result topics.</summary>
public sealed record LinkedSite(string Name, string BootstrapServers, string AlertsTopic, string? EnrichedTopic);

/// <summary>The <c>anomaly-actors.global</c> section: the global Kafka and the sites replicated to it, parsed once.</summary>
public sealed record GlobalSettings(
    string BootstrapServers,
    IReadOnlyList<LinkedSite> Sites,
    string OffsetsTopic,
    string StatusTopic,
    TimeSpan HeartbeatInterval,
    int MaxBatch)
{
    public const string Path = "anomaly-actors.global";

    public static GlobalSettings FromConfig(Config root, ConfigOrigin origin)
    {
        var c = new SettingsReader(root, Path, origin);
        var sites = new List<LinkedSite>();
        foreach (var site in c.Blocks("sites"))
        {
            var name = site.Text("name");
            if (!SiteName.IsValid(name))
            {
                throw site.Invalid("name", name, SiteName.Rule + " (it names the site's topics on the global Kafka)");
            }

            if (sites.Any(s => s.Name == name))
            {
                throw site.Invalid("name", name, "a name no other site of the list has");
            }

            sites.Add(new LinkedSite(name, site.Text("bootstrap-servers"), site.OptionalText("alerts-topic", "alerts")!, site.OptionalText("enriched-topic", string.Empty) is { Length: > 0 } e ? e : null));
            site.RejectUnknownKeys();
        }

        var settings = new GlobalSettings(
            c.OptionalText("bootstrap-servers", string.Empty)!,
            sites,
            c.OptionalText("offsets-topic", "anomaly-actors.replication-offsets")!,
            c.OptionalText("status-topic", "anomaly-actors.replication-status")!,
            c.PositiveDuration("heartbeat-interval", TimeSpan.FromSeconds(5)),
            c.Int("max-batch", 5_000, 1, 1_000_000));
        c.RejectUnknownKeys();
        return settings;
    }

    /// <summary>The link of a site, as this layer runs it.</summary>
    public SiteLinkSettings LinkOf(LinkedSite site) =>
        new(site.Name, site.BootstrapServers, SiteLinkSettings.TopicsOf(site.Name, site.AlertsTopic, site.EnrichedTopic), BootstrapServers, OffsetsTopic, StatusTopic, HeartbeatInterval, MaxBatch);
}
