namespace AnomalyActors.Replication;

/// <summary>One of a site's topics and the global topic its records go to (e.g. alerts to dc1.alerts).</summary>
public sealed record ReplicatedTopic(string Source, string Target);

/// <summary>
/// A link from one site's Kafka to the global Kafka.
/// </summary>
/// <param name="Site">The site's name: in the target topics' names, the origin header and the link's offsets and status.</param>
/// <param name="SourceProperties">librdkafka properties for the site's cluster (security), applied as given.</param>
/// <param name="OffsetsTopic">Global topic holding each source partition's next offset to replicate (compacted in a real cluster).</param>
/// <param name="StatusTopic">Global topic receiving the link's heartbeats (keyed by site).</param>
/// <param name="MaxBatch">Records replicated between two offset writes at most.</param>
public sealed record SiteLinkSettings(
    string Site,
    string SourceBootstrap,
    IReadOnlyList<ReplicatedTopic> Topics,
    string GlobalBootstrap,
    string OffsetsTopic,
    string StatusTopic,
    TimeSpan HeartbeatInterval,
    int MaxBatch = 5_000,
    IReadOnlyDictionary<string, string>? SourceProperties = null,
    IReadOnlyDictionary<string, string>? GlobalProperties = null)
{
    /// <summary>How long one call to a broker may take before the link counts it as unreachable.</summary>
    public TimeSpan BrokerTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>The alerts topic of a site (and its enriched topic, where given) to <c>&lt;site&gt;.alerts</c> (and <c>&lt;site&gt;.enriched</c>).</summary>
    public static IReadOnlyList<ReplicatedTopic> TopicsOf(string site, string alertsTopic, string? enrichedTopic) =>
        enrichedTopic is { Length: > 0 }
            ? [new ReplicatedTopic(alertsTopic, $"{site}.alerts"), new ReplicatedTopic(enrichedTopic, $"{site}.enriched")]
            : [new ReplicatedTopic(alertsTopic, $"{site}.alerts")];
}
