using System.Diagnostics.Metrics;
using Akka.Actor;
using Akka.Cluster;
using AnomalyActors.Core.Events;
using AnomalyActors.Core.Protocol;
using AnomalyActors.Core.Results;
using AnomalyActors.Web.Alerts;
using AnomalyActors.Web.Series;

namespace AnomalyActors.Host;

/// <summary>Where a node's alert board takes the site's alerts from.</summary>
internal enum BoardSource
{
    /// <summary>This node's results sink: the node is the site.</summary>
    Node,

    /// <summary>Every member's results sink: the members' feeds send each other their alerts (no Kafka).</summary>
    Cluster,

    /// <summary>The site's alerts topic, which every member writes (the board is filled by an <see cref="Kafka.AlertsTopicFollower"/>).</summary>
    AlertsTopic,
}

/// <summary>
/// Feeds the dashboard from this node's delivered alerts: the time from each anomalous reading to its
/// alert is recorded and the stream is watched from then on; the board gets the alert itself from the
/// <see cref="BoardSource"/>. In a cluster the members' feeds know each other: a feed greets the feed
/// of every member up (and of every member that comes up), and each side then sends the other the
/// alerts (from <see cref="BoardSource.Cluster"/>) and acknowledgements this node made recently and,
/// from then on, every new one, straight to the other: nothing falls between a member's arrival and
/// its first alert, and a member that starts later shows the site's recent alerts too. A stream page
/// opened here (or a stream watched from its alert) asks the other members for the stream's scored
/// readings: the member whose sensor scores it sends what it keeps and then every new reading.
/// </summary>
internal sealed class DashboardFeed : ReceiveActor, IWithTimers
{
    public const string Name = "dashboard-alerts";

    /// <summary>How often this node's watched streams are renewed with the other members (well within <see cref="SeriesRelay.WatchFor"/>).</summary>
    private static readonly TimeSpan RenewWatches = TimeSpan.FromSeconds(60);

    private readonly Queue<IAnomalyActorsMessage> _recent = new();
    private readonly HashSet<IActorRef> _peers = [];
    private readonly HashSet<string> _watchedHere = new(StringComparer.Ordinal);
    private readonly SeriesRelay? _relay;
    private readonly SeriesStore _series;
    private readonly int _keep;

    /// <param name="relay">
    /// In a cluster (else null): this node's sensors' tap for other members' stream pages. The feed
    /// then shares acknowledgements (and, from <see cref="BoardSource.Cluster"/>, alerts) with the
    /// other members' feeds.
    /// </param>
    /// <param name="keep">How many of this node's newest alerts and acknowledgements a feed that arrives later is sent.</param>
    public DashboardFeed(AlertBoard board, SeriesStore series, SeriesRelay? relay, Histogram<double> latency, AcknowledgementLog acknowledgements, BoardSource source, int keep)
    {
        _relay = relay;
        _keep = keep;
        _series = series;
        Receive<AlertDelivered>(delivered =>
        {
            if (source != BoardSource.AlertsTopic)
            {
                board.Apply(delivered.Alert);
            }

            if (source == BoardSource.Cluster)
            {
                Share(delivered.Alert);
            }

            if (delivered.Alert is EpisodeOpened opened)
            {
                // Its sensor is here: no member needs asking for its readings.
                series.Watch(opened.SensorId, announce: false);
                var stream = StreamId.Parse(opened.SensorId);
                var seconds = Math.Max(0, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - opened.TimestampMs) / 1000.0;
                latency.Record(seconds, new KeyValuePair<string, object?>("site", stream.Site), new KeyValuePair<string, object?>("metric", stream.Metric));
            }
        });

        // Another member's alert or acknowledgement.
        Receive<IEpisodeEvent>(board.Apply);
        Receive<AlertAcknowledged>(a => acknowledgements.Record(board, new Acknowledgement(a.AlertId, a.By, a.AtMs)));
        Receive<ShareAcknowledgement>(share => Share(share.Acknowledgement));

        Receive<DashboardGreeting>(greeting =>
        {
            if (_peers.Add(Sender))
            {
                Context.Watch(Sender);
                foreach (var recent in _recent)
                {
                    Sender.Tell(recent);
                }

                foreach (var sensorId in WatchedHere())
                {
                    Sender.Tell(new WatchSeries(sensorId));
                }
            }

            if (!greeting.Answer)
            {
                Sender.Tell(new DashboardGreeting(Answer: true));
            }
        });
        Receive<ClusterEvent.CurrentClusterState>(state =>
        {
            foreach (var member in state.Members.Where(m => m.Status == MemberStatus.Up))
            {
                Greet(member.Address);
            }
        });
        Receive<ClusterEvent.MemberUp>(up => Greet(up.Member.Address));
        Receive<ClusterEvent.MemberRemoved>(removed =>
        {
            foreach (var peer in _peers.Where(p => p.Path.Address == removed.Member.Address).ToList())
            {
                Forget(peer);
            }
        });
        Receive<Terminated>(terminated => Forget(terminated.ActorRef));

        // Stream pages: a page opened here asks every member for the stream's readings; the
        // member whose sensor scores it sends them.
        Receive<StartedWatching>(started =>
        {
            _watchedHere.Add(started.SensorId);
            foreach (var peer in _peers)
            {
                peer.Tell(new WatchSeries(started.SensorId));
            }
        });
        Receive<WatchSeries>(watch =>
        {
            // What this node's store kept of a stream its sensor scores (it watched it from an alert).
            if (_relay!.Watch(watch.SensorId, Sender) && series.IsWatched(watch.SensorId) && series.Watch(watch.SensorId, announce: false) is { ScoredHere: true } kept)
            {
                Sender.Tell(new SeriesPoints(watch.SensorId, kept.Points()));
            }
        });
        Receive<SeriesPoints>(points => series.RecordFromPeer(points.SensorId, points.Points));
        Receive<Renew>(_ =>
        {
            _relay?.Expire();
            foreach (var sensorId in WatchedHere())
            {
                foreach (var peer in _peers)
                {
                    peer.Tell(new WatchSeries(sensorId));
                }
            }
        });
    }

    public ITimerScheduler Timers { get; set; } = null!;

    private bool Clustered => _relay is not null;

    protected override void PreStart()
    {
        if (!Clustered)
        {
            return;
        }

        Cluster.Get(Context.System).Subscribe(Self, ClusterEvent.InitialStateAsSnapshot, typeof(ClusterEvent.MemberUp), typeof(ClusterEvent.MemberRemoved));
        var self = Self;
        _series.Started = sensorId => self.Tell(new StartedWatching(sensorId));
        Timers.StartPeriodicTimer(nameof(Renew), Renew.Instance, RenewWatches);
    }

    public static Props Props(AlertBoard board, SeriesStore series, SeriesRelay? relay, Histogram<double> latency, AcknowledgementLog acknowledgements, BoardSource source, int keep) =>
        Akka.Actor.Props.Create(() => new DashboardFeed(board, series, relay, latency, acknowledgements, source, keep));

    protected override void PostStop()
    {
        if (Clustered)
        {
            _series.Started = null;
            Cluster.Get(Context.System).Unsubscribe(Self);
        }
    }

    /// <summary>The streams this node's dashboard watches (its pages and its alerts), not those it keeps for other members.</summary>
    private List<string> WatchedHere()
    {
        _watchedHere.RemoveWhere(sensorId => !_series.IsWatched(sensorId));
        return [.. _watchedHere];
    }

    private void Forget(IActorRef peer)
    {
        _peers.Remove(peer);
        _relay?.Forget(peer);
    }

    private void Greet(Address member)
    {
        if (member != Cluster.Get(Context.System).SelfAddress)
        {
            Context.ActorSelection(new RootActorPath(member) / "user" / Name).Tell(new DashboardGreeting(Answer: false));
        }
    }

    private void Share(IAnomalyActorsMessage message)
    {
        _recent.Enqueue(message);
        if (_recent.Count > _keep)
        {
            _recent.Dequeue();
        }

        foreach (var peer in _peers)
        {
            peer.Tell(message);
        }
    }

    /// <summary>An acknowledgement made on this node's dashboard, for the other members.</summary>
    public sealed record ShareAcknowledgement(AlertAcknowledged Acknowledgement);

    private sealed record StartedWatching(string SensorId);

    private sealed class Renew
    {
        public static readonly Renew Instance = new();
    }
}
