using System.Diagnostics.Metrics;
using Akka.Actor;
using Akka.Cluster.Tools.Singleton;
using Akka.Configuration;
using AnomalyActors.Kafka;
using AnomalyActors.Node.Hosting;
using AnomalyActors.Replication;
using AnomalyActors.Web;
using AnomalyActors.Web.Alerts;
using AnomalyActors.Web.Metrics;
using AnomalyActors.Web.Series;
using Confluent.Kafka;

namespace AnomalyActors.Host;

/// <summary>
/// The global layer (<c>run --role global</c>): a link per configured site copying its result topics
/// to the global Kafka, each a singleton of the global layer's own Akka cluster (one process forms a
/// cluster of its own; with seed nodes, several processes share the links, and a member's links move
/// to another when it leaves or dies), and a dashboard on every member whose board follows every
/// site's copied alerts (repeats, which a link may copy after a crash, are one alert: the board is
/// keyed by alert id), with each link's health (reachable, lag in records and seconds, records lost,
/// from the links' heartbeats on the global Kafka) in its operations panel and in <c>/metrics</c>. No
/// sensors run here and nothing is persisted but on the global Kafka; a site cut off from this layer
/// keeps working and its link catches up after the heal.
/// </summary>
public sealed class GlobalHost : IAsyncDisposable
{
    private readonly DataDirectoryLock _lock;
    private readonly ActorSystem _system;
    private readonly LinkStatuses _links;
    private readonly AlertsTopicFollower _follower;
    private readonly AlertsTopicFollower _heartbeats;
    private readonly AcknowledgementLog _acknowledgements;
    private readonly Meter _meter;
    private readonly PrometheusExporter _exporter;

    private GlobalHost(AnomalyActorsSettings settings, DataDirectoryLock dataLock, ActorSystem system, LinkStatuses links, AlertBoard board, AlertsTopicFollower follower,
        AlertsTopicFollower heartbeats, AcknowledgementLog acknowledgements, Meter meter, PrometheusExporter exporter, DashboardServer? dashboard)
    {
        Settings = settings;
        _lock = dataLock;
        _system = system;
        _links = links;
        Board = board;
        _follower = follower;
        _heartbeats = heartbeats;
        _acknowledgements = acknowledgements;
        _meter = meter;
        _exporter = exporter;
        Dashboard = dashboard;
    }

    public AnomalyActorsSettings Settings { get; }

    /// <summary>The most recent alerts of every site, one per alert id.</summary>
    public AlertBoard Board { get; }

    /// <summary>The dashboard when <c>anomaly-actors.web.enabled</c> is on, else null.</summary>
    public DashboardServer? Dashboard { get; }

    /// <summary>Each site's link, as its last heartbeat said (wherever in the global cluster it runs).</summary>
    public IReadOnlyList<LinkStatus> Links => _links.Current(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());

    /// <summary>Nothing is persisted here (the links' offsets are on the global Kafka), so a global cluster needs no database.</summary>
    private static readonly Akka.Configuration.Config NoStore = ConfigurationFactory.ParseString("anomaly-actors.persistence.provider = none");

    public static Task<GlobalHost> StartAsync(Akka.Configuration.Config? overrides = null, string? hoconDirectory = null, Action<string>? report = null) =>
        StartAsync(AnomalyActorsSettings.Load(overrides is null ? NoStore : overrides.WithFallback(NoStore), hoconDirectory), report);

    /// <param name="report">Where problems an operator must hear of go (a site that does not answer, records lost).</param>
    public static async Task<GlobalHost> StartAsync(AnomalyActorsSettings settings, Action<string>? report = null)
    {
        report ??= Console.Error.WriteLine;
        var global = settings.Global;
        if (global.BootstrapServers.Length == 0)
        {
            throw new ConfigurationException($"Configuration key '{GlobalSettings.Path}.bootstrap-servers' is empty: the global role needs the global Kafka (ANOMALY_ACTORS_GLOBAL_KAFKA) ({settings.Source.Of($"{GlobalSettings.Path}.bootstrap-servers")}).");
        }

        if (global.Sites.Count == 0)
        {
            throw new ConfigurationException($"Configuration key '{GlobalSettings.Path}.sites' is empty: the global role needs at least one site to link ({settings.Source.Of($"{GlobalSettings.Path}.sites")}).");
        }

        var dataLock = DataDirectoryLock.Acquire(settings.Node.DataDirectory);
        ActorSystem system;
        try
        {
            system = ActorSystem.Create("anomaly-actors", BootstrapSetup.Create().WithConfig(settings.Config.WithFallback(ClusterSingleton.DefaultConfig())));
        }
        catch
        {
            dataLock.Dispose();
            throw;
        }

        var board = new AlertBoard(settings.Web.RecentAlerts);
        // Each site's alerts as copied to the global Kafka, and the site they came from.
        var siteOfTopic = global.Sites.ToDictionary(s => SiteLinkSettings.TopicsOf(s.Name, s.AlertsTopic, null)[0].Target, s => s.Name, StringComparer.Ordinal);
        var feed = new GlobalAlertFeed(board, siteOfTopic, report);
        var links = new LinkStatuses(global.Sites.Select(s => s.Name), global.HeartbeatInterval);
        AlertsTopicFollower? follower = null;
        AlertsTopicFollower? heartbeats = null;
        AcknowledgementLog? acknowledgements = null;
        Meter? meter = null;
        PrometheusExporter? exporter = null;
        DashboardServer? dashboard = null;
        try
        {
            await AnomalyNode.JoinClusterAsync(system, settings.Node.Cluster).ConfigureAwait(false);
            SiteLinks.Start(system, global, report);
            // Readers of the global Kafka that never commit: each member reads the tail, then follows.
            AlertsTopicFollower Follow(string group, IReadOnlyList<string> topics, int tail, Action<string, byte[]> onRecord) => new(
                new ConsumerConfig { BootstrapServers = global.BootstrapServers, GroupId = group, EnableAutoCommit = false, EnableAutoOffsetStore = false },
                new AdminClientConfig { BootstrapServers = global.BootstrapServers },
                topics,
                tail,
                onRecord,
                report);
            follower = Follow("anomaly-actors-global-view", [.. siteOfTopic.Keys], settings.Web.RecentAlerts, feed.Apply);
            heartbeats = Follow("anomaly-actors-global-status", [global.StatusTopic], 10 * global.Sites.Count, (_, value) => links.Apply(value));
            acknowledgements = AcknowledgementLog.Open(Path.Combine(settings.Node.DataDirectory, "acknowledgements.jsonl"), board);
            meter = new Meter("AnomalyActors.Global");
            var now = () => links.Current(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
            RegisterInstruments(meter, now, feed);
            exporter = new PrometheusExporter([meter], new Dictionary<string, string> { ["site"] = "global" });
            if (settings.Web.Enabled)
            {
                dashboard = await DashboardServer.StartAsync(settings.Web, new DashboardSources(board, acknowledgements, new SeriesStore(1, 1), exporter, () => Operations(now()))).ConfigureAwait(false);
            }
        }
        catch
        {
            await StopAsync(system, dashboard, follower, heartbeats, acknowledgements, exporter, meter, dataLock).ConfigureAwait(false);
            throw;
        }

        return new GlobalHost(settings, dataLock, system, links, board, follower, heartbeats, acknowledgements, meter, exporter, dashboard);
    }

    private static void RegisterInstruments(Meter meter, Func<IReadOnlyList<LinkStatus>> links, GlobalAlertFeed feed)
    {
        IEnumerable<Measurement<T>> Each<T>(Func<LinkStatus, T> value)
            where T : struct =>
            links().Select(s => new Measurement<T>(value(s), new KeyValuePair<string, object?>("site", s.Site)));
        meter.CreateObservableGauge("anomaly_actors_replication_lag_records", () => Each(s => s.LagRecords), description: "Records of a site's result topics not copied to the global Kafka yet.");
        meter.CreateObservableGauge("anomaly_actors_replication_lag_seconds", () => Each(s => s.LagSeconds), "s", "Age of the oldest record of a site not copied yet (to a heartbeat interval; at least the time since the site last answered while it does not).");
        meter.CreateObservableGauge("anomaly_actors_replication_reachable", () => Each(s => s.Reachable ? 1 : 0), description: "Whether a site's Kafka answered the link's last check.");
        meter.CreateObservableCounter("anomaly_actors_replication_records_total", () => Each(s => s.Replicated), description: "Records a site's link copied since the global node started.");
        meter.CreateObservableCounter("anomaly_actors_replication_lost_records_total", () => Each(s => s.LostRecords), description: "Records a site deleted before its link copied them.");
        meter.CreateObservableCounter("anomaly_actors_global_foreign_site_alerts_total", () => Each(s => feed.Foreign.GetValueOrDefault(s.Site)),
            description: "Alerts a site's link copied that name another site's streams (their ids could collide in the global view).");
    }

    private static OperationsView Operations(IReadOnlyList<LinkStatus> links)
    {
        return new OperationsView("global", 0, 0, 0, 0, 0, new Dictionary<string, long>(), [], null, null,
            [.. links.Select(s => new ReplicationView(s.Site, s.Reachable, s.LagRecords, s.LagSeconds, s.Replicated, s.LostRecords, s.AtMs))]);
    }

    /// <summary>Leaves the global cluster (its links move to another member, if any), then stops the rest.</summary>
    public ValueTask DisposeAsync() =>
        new(StopAsync(_system, Dashboard, _follower, _heartbeats, _acknowledgements, _exporter, _meter, _lock));

    private static async Task StopAsync(ActorSystem system, DashboardServer? dashboard, AlertsTopicFollower? follower, AlertsTopicFollower? heartbeats,
        AcknowledgementLog? acknowledgements, PrometheusExporter? exporter, Meter? meter, DataDirectoryLock dataLock)
    {
        if (dashboard is not null)
        {
            await dashboard.DisposeAsync().ConfigureAwait(false);
        }

        // The links stop (and hand over) with the member.
        await CoordinatedShutdown.Get(system).Run(CoordinatedShutdown.ClrExitReason.Instance).ConfigureAwait(false);
        if (follower is not null)
        {
            await follower.DisposeAsync().ConfigureAwait(false);
        }

        if (heartbeats is not null)
        {
            await heartbeats.DisposeAsync().ConfigureAwait(false);
        }

        acknowledgements?.Dispose();
        exporter?.Dispose();
        meter?.Dispose();
        dataLock.Dispose();
    }
}
