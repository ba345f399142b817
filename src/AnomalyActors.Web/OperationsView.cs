namespace AnomalyActors.Web;

/// <summary>What the operations panel shows of a node, read when asked (totals since the node started).</summary>
/// <param name="DeadLettersByReason">Input that did not become scored readings, by reason.</param>
/// <param name="Members">The cluster's members as this node sees them (itself alone on a single node).</param>
/// <param name="Intake">The node's own intake's lag (null with Kafka as the intake, or while partitions do not answer).</param>
public sealed record OperationsView(
    string Site,
    long ReadingsScored,
    long ReadingsDurable,
    long EpisodesOpened,
    long EpisodesClosed,
    long SnapshotsSaved,
    IReadOnlyDictionary<string, long> DeadLettersByReason,
    IReadOnlyList<MemberView> Members,
    IntakeLagView? Intake = null,
    KafkaTopicsView? Kafka = null,
    IReadOnlyList<ReplicationView>? Replication = null);

/// <summary>A site's link to the global layer as of <paramref name="AtMs"/> (on a global node).</summary>
/// <param name="LagRecords">Records of the site's result topics not copied yet.</param>
/// <param name="LagSeconds">Age of the oldest record not copied yet, to a heartbeat interval (0 when caught up).</param>
/// <param name="LostRecords">Records the site deleted before they were copied.</param>
public sealed record ReplicationView(string Site, bool Reachable, long LagRecords, double LagSeconds, long Replicated, long LostRecords, long AtMs);

/// <summary>The site's Kafka topics as of <paramref name="AtMs"/>.</summary>
/// <param name="ReadingsLag">Readings of the readings topic beyond the node's committed offsets.</param>
public sealed record KafkaTopicsView(IReadOnlyList<TopicSizeView> Topics, long? ReadingsLag, long AtMs);

/// <param name="Messages">Messages the topic holds now.</param>
public sealed record TopicSizeView(string Topic, int Partitions, long Messages);

/// <summary>The intake's lag over the whole site, as of <paramref name="AtMs"/>.</summary>
/// <param name="SensorsBehind">Sensors whose readings a partition still holds for them.</param>
/// <param name="ReadingsRetained">Readings kept because some sensor has not snapshotted past them.</param>
/// <param name="ReadingsStored">Readings made durable since the data directory was created.</param>
public sealed record IntakeLagView(int SensorsBehind, long ReadingsRetained, long ReadingsStored, long AtMs);

/// <param name="Status">Akka's member status (Up, Leaving, Exiting, Down, ...).</param>
public sealed record MemberView(string Address, string Status, bool Reachable, bool Self);
