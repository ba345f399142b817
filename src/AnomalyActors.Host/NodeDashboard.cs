using System.Diagnostics.Metrics;
using Akka.Actor;
using Akka.Configuration;
using Akka.Event;
using AnomalyActors.Core.Configuration;
using AnomalyActors.Core.Results;
using AnomalyActors.Web;
using AnomalyActors.Web.Alerts;
using AnomalyActors.Web.Metrics;
using AnomalyActors.Web.Series;
using AnomalyActors.Core.Events;
using AnomalyActors.Core.Protocol;
using AnomalyActors.Kafka;

namespace AnomalyActors.Host;

/// <summary>
/// The dashboard of one node, wired to it. The board shows the site's alerts: with Kafka, those of
/// the site's alerts topic (its tail at start, then live), which every member writes; otherwise this
/// node's own (the tail of its alerts file at start, then live) and, in a cluster, every other
/// member's live. Acknowledgements are kept in the data directory, and in a cluster every member
/// records one made on any member's dashboard. The node's counters are instruments of one
/// <see cref="Meter"/> that <c>/metrics</c> exports.
/// </summary>
public sealed class NodeDashboard : IAsyncDisposable
{
    /// <summary>The alerts file is read from this far before its end at start: a few thousand alerts.</summary>
    private const long AlertsFileTail = 4 * 1024 * 1024;

    private readonly Meter _meter;
    private readonly PrometheusExporter _exporter;
    private readonly AcknowledgementLog _acknowledgements;
    private readonly IActorRef _feed;

    private readonly IntakeLagSampler? _intakeLag;
    private readonly KafkaTopicSampler? _topics;

    private readonly AlertsTopicFollower? _follower;

    private NodeDashboard(Meter meter, PrometheusExporter exporter, AcknowledgementLog acknowledgements, IActorRef feed, AlertBoard board, DashboardServer server,
        IntakeLagSampler? intakeLag, KafkaTopicSampler? topics, AlertsTopicFollower? follower)
    {
        _follower = follower;
        _intakeLag = intakeLag;
        _topics = topics;
        _meter = meter;
        _exporter = exporter;
        _acknowledgements = acknowledgements;
        _feed = feed;
        Board = board;
        Server = server;
    }

    public AlertBoard Board { get; }
    public DashboardServer Server { get; }
    public Uri Address => Server.Address;

    /// <param name="relay">In a cluster, where this node's sensors send watched streams' readings for other members.</param>
    internal static async Task<NodeDashboard> StartAsync(AnomalyHost host, SeriesStore series, SeriesRelay? relay)
    {
        var settings = host.Settings;
        var board = new AlertBoard(settings.Web.RecentAlerts);
        var system = host.Node.System;
        var meter = new Meter("AnomalyActors");
        // The node's site on every series that does not carry a stream's site already.
        var exporter = new PrometheusExporter([meter, host.Node.Metrics.Meter], new Dictionary<string, string> { ["site"] = settings.Archive.Site });
        var intakeLag = host.Settings.Kafka.Enabled ? null : new IntakeLagSampler(host.Node);
        var topics = host.Settings.Kafka.Enabled ? new KafkaTopicSampler(host.Settings.Kafka, message => system.Log.Warning("{0}", message)) : null;
        NodeInstruments.Register(meter, host, intakeLag, topics);
        var latency = NodeInstruments.AlertLatency(meter);
        var clustered = host.Node.Settings.Cluster.Clustered;
        var source = host.Settings.Kafka.Enabled ? BoardSource.AlertsTopic : clustered ? BoardSource.Cluster : BoardSource.Node;
        var acknowledgements = AcknowledgementLog.Open(Path.Combine(host.Node.Settings.DataDirectory, "acknowledgements.jsonl"), board);
        // Subscribed before the alerts file is read: an alert delivered meanwhile is applied twice,
        // which the board ignores, rather than missed.
        var feed = system.ActorOf(DashboardFeed.Props(board, series, relay, latency, acknowledgements, source, settings.Web.RecentAlerts), DashboardFeed.Name);
        system.EventStream.Subscribe(feed, typeof(AlertDelivered));
        if (clustered)
        {
            acknowledgements.Acknowledged = a => feed.Tell(new DashboardFeed.ShareAcknowledgement(new AlertAcknowledged(a.AlertId, a.By, a.AtMs)));
        }

        AlertsTopicFollower? follower = null;
        if (source == BoardSource.AlertsTopic)
        {
            follower = new AlertsTopicFollower(host.Settings.Kafka, settings.Web.RecentAlerts, value => board.ApplyJson(value), message => system.Log.Warning("{0}", message));
        }
        else if (host.Node.Settings.Alerts.FilePath is { } alertsFile && File.Exists(alertsFile))
        {
            foreach (var line in TailLines(alertsFile, AlertsFileTail))
            {
                board.ApplyJson(line);
            }
        }

        try
        {
            var server = await DashboardServer.StartAsync(settings.Web, new DashboardSources(board, acknowledgements, series, exporter, () => Operations(host, intakeLag, topics))).ConfigureAwait(false);
            if (Listeners.ClearTextWarning("The dashboard", settings.Web.Address.ToString(), server.Address.Port,
                    "Every request needs the token, but it travels in clear text: put a TLS-terminating proxy in front.") is { } warning)
            {
                system.Log.Warning(warning);
            }

            return new NodeDashboard(meter, exporter, acknowledgements, feed, board, server, intakeLag, topics, follower);
        }
        catch (IOException e)
        {
            system.Stop(feed);
            if (follower is not null)
            {
                await follower.DisposeAsync().ConfigureAwait(false);
            }

            if (intakeLag is not null)
            {
                await intakeLag.DisposeAsync().ConfigureAwait(false);
            }

            if (topics is not null)
            {
                await topics.DisposeAsync().ConfigureAwait(false);
            }

            exporter.Dispose();
            meter.Dispose();
            acknowledgements.Dispose();
            var key = $"{WebSettings.Path}.port";
            throw new ConfigurationException(
                $"Configuration key '{key}' is {settings.Web.Port} on {settings.Web.Address}: {e.Message}. Choose another port (ANOMALY_ACTORS_WEB_PORT), 0 for any free one, or switch the dashboard off (ANOMALY_ACTORS_WEB=off) ({settings.Source.Of(key)}).", e);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Server.DisposeAsync().ConfigureAwait(false);
        if (_follower is not null)
        {
            await _follower.DisposeAsync().ConfigureAwait(false);
        }

        if (_intakeLag is not null)
        {
            await _intakeLag.DisposeAsync().ConfigureAwait(false);
        }

        if (_topics is not null)
        {
            await _topics.DisposeAsync().ConfigureAwait(false);
        }

        _exporter.Dispose();
        _meter.Dispose();
        _acknowledgements.Dispose();
        _feed.Tell(PoisonPill.Instance);
    }

    private static OperationsView Operations(AnomalyHost host, IntakeLagSampler? intakeLag, KafkaTopicSampler? topics)
    {
        var metrics = host.Node.Metrics;
        var deadLetters = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var (reason, count) in NodeInstruments.DeadLettersByReason(host))
        {
            deadLetters[reason.ToString()] = count;
        }

        var members = new List<MemberView>();
        var cluster = Akka.Cluster.Cluster.Get(host.Node.System);
        var state = cluster.State;
        foreach (var member in state.Members)
        {
            members.Add(new MemberView(member.Address.ToString(), member.Status.ToString(), !state.Unreachable.Contains(member), member.Address == cluster.SelfAddress));
        }

        return new OperationsView(host.Settings.Archive.Site, metrics.ReadingsScored, metrics.ReadingsDurable, metrics.EpisodesOpened, metrics.EpisodesClosed,
            metrics.SnapshotsSaved, deadLetters, members, intakeLag?.Latest,
            topics?.Latest is { } sample ? new KafkaTopicsView([.. sample.Topics.Select(t => new TopicSizeView(t.Topic, t.Partitions, t.Messages))], sample.ReadingsLag, sample.AtMs) : null);
    }

    /// <summary>The whole lines of the last <paramref name="bytes"/> of a file (the first, cut one, dropped).</summary>
    private static IEnumerable<byte[]> TailLines(string path, long bytes)
    {
        byte[] tail;
        bool cut;
        using (var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete))
        {
            var start = Math.Max(0, file.Length - bytes);
            cut = start > 0;
            file.Position = start;
            tail = new byte[file.Length - start];
            file.ReadExactly(tail);
        }

        var from = 0;
        if (cut)
        {
            var first = Array.IndexOf(tail, (byte)'\n');
            from = first < 0 ? tail.Length : first + 1;
        }

        while (from < tail.Length)
        {
            var end = Array.IndexOf(tail, (byte)'\n', from);
            var stop = end < 0 ? tail.Length : end;
            if (stop > from)
            {
                yield return tail[from..stop];
            }

            from = stop + 1;
        }
    }
}
