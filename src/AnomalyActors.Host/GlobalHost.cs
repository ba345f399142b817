using System.Diagnostics.Metrics;
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
/// to the global Kafka, and a dashboard whose board follows every site's copied alerts (repeats,
/// which a link may copy after a crash, are one alert: the board is keyed by alert id), with each
/// link's health (reachable, lag in records and seconds, records lost) in its operations panel and
/// in <c>/metrics</c>. No sensors run here; a site cut off from this layer keeps working and its
/// link catches up after the heal.
/// </summary>
public sealed class GlobalHost : IAsyncDisposable
{
    private readonly DataDirectoryLock _lock;
    private readonly IReadOnlyList<SiteLink> _links;
    private readonly AlertsTopicFollower _follower;
    private readonly AcknowledgementLog _acknowledgements;
    private readonly Meter _meter;
    private readonly PrometheusExporter _exporter;

    private GlobalHost(AnomalyActorsSettings settings, DataDirectoryLock dataLock, IReadOnlyList<SiteLink> links, AlertBoard board, AlertsTopicFollower follower,
        AcknowledgementLog acknowledgements, Meter meter, PrometheusExporter exporter, DashboardServer? dashboard)
    {
        Settings = settings;
        _lock = dataLock;
        _links = links;
        Board = board;
        _follower = follower;
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

    /// <summary>Each site's link, as last known.</summary>
    public IReadOnlyList<LinkStatus> Links => [.. _links.Select(l => l.Status)];

    public static Task<GlobalHost> StartAsync(Akka.Configuration.Config? overrides = null, string? hoconDirectory = null, Action<string>? report = null) =>
        StartAsync(AnomalyActorsSettings.Load(overrides, hoconDirectory), report);

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
        var links = global.Sites.Select(site => SiteLink.Start(global.LinkOf(site), report)).ToList();
        var board = new AlertBoard(settings.Web.RecentAlerts);
        // Each site's alerts as copied to the global Kafka, and the site they came from.
        var siteOfTopic = global.Sites.ToDictionary(s => SiteLinkSettings.TopicsOf(s.Name, s.AlertsTopic, null)[0].Target, s => s.Name, StringComparer.Ordinal);
        var feed = new GlobalAlertFeed(board, siteOfTopic, report);
        var follower = new AlertsTopicFollower(
            new ConsumerConfig { BootstrapServers = global.BootstrapServers, GroupId = "anomaly-actors-global-view", EnableAutoCommit = false, EnableAutoOffsetStore = false },
            new AdminClientConfig { BootstrapServers = global.BootstrapServers },
            [.. siteOfTopic.Keys],
            settings.Web.RecentAlerts,
            feed.Apply,
            report);
        var acknowledgements = AcknowledgementLog.Open(Path.Combine(settings.Node.DataDirectory, "acknowledgements.jsonl"), board);
        var meter = new Meter("AnomalyActors.Global");
        RegisterInstruments(meter, links, feed);
        var exporter = new PrometheusExporter([meter], new Dictionary<string, string> { ["site"] = "global" });
        DashboardServer? dashboard = null;
        try
        {
            if (settings.Web.Enabled)
            {
                dashboard = await DashboardServer.StartAsync(settings.Web, new DashboardSources(board, acknowledgements, new SeriesStore(1, 1), exporter, () => Operations(links))).ConfigureAwait(false);
            }
        }
        catch
        {
            await follower.DisposeAsync().ConfigureAwait(false);
            foreach (var link in links)
            {
                await link.DisposeAsync().ConfigureAwait(false);
            }

            acknowledgements.Dispose();
            exporter.Dispose();
            meter.Dispose();
            dataLock.Dispose();
            throw;
        }

        return new GlobalHost(settings, dataLock, links, board, follower, acknowledgements, meter, exporter, dashboard);
    }

    private static void RegisterInstruments(Meter meter, IReadOnlyList<SiteLink> links, GlobalAlertFeed feed)
    {
        IEnumerable<Measurement<T>> Each<T>(Func<LinkStatus, T> value)
            where T : struct =>
            links.Select(l => l.Status).Select(s => new Measurement<T>(value(s), new KeyValuePair<string, object?>("site", s.Site)));
        meter.CreateObservableGauge("anomaly_actors_replication_lag_records", () => Each(s => s.LagRecords), description: "Records of a site's result topics not copied to the global Kafka yet.");
        meter.CreateObservableGauge("anomaly_actors_replication_lag_seconds", () => Each(s => s.LagSeconds), "s", "Time since a site's link was last caught up, while it is behind.");
        meter.CreateObservableGauge("anomaly_actors_replication_reachable", () => Each(s => s.Reachable ? 1 : 0), description: "Whether a site's Kafka answered the link's last check.");
        meter.CreateObservableCounter("anomaly_actors_replication_records_total", () => Each(s => s.Replicated), description: "Records a site's link copied since the global node started.");
        meter.CreateObservableCounter("anomaly_actors_replication_lost_records_total", () => Each(s => s.LostRecords), description: "Records a site deleted before its link copied them.");
        meter.CreateObservableCounter("anomaly_actors_global_foreign_site_alerts_total", () => Each(s => feed.Foreign.GetValueOrDefault(s.Site)),
            description: "Alerts a site's link copied that name another site's streams (their ids could collide in the global view).");
    }

    private static OperationsView Operations(IReadOnlyList<SiteLink> links)
    {
        return new OperationsView("global", 0, 0, 0, 0, 0, new Dictionary<string, long>(), [], null, null,
            [.. links.Select(l => l.Status).Select(s => new ReplicationView(s.Site, s.Reachable, s.LagRecords, s.LagSeconds, s.Replicated, s.LostRecords, s.AtMs))]);
    }

    public async ValueTask DisposeAsync()
    {
        if (Dashboard is not null)
        {
            await Dashboard.DisposeAsync().ConfigureAwait(false);
        }

        await _follower.DisposeAsync().ConfigureAwait(false);
        foreach (var link in _links)
        {
            await link.DisposeAsync().ConfigureAwait(false);
        }

        _acknowledgements.Dispose();
        _exporter.Dispose();
        _meter.Dispose();
        _lock.Dispose();
    }
}
