using Akka;
using Akka.Actor;
using Akka.Cluster.Tools.Singleton;
using Akka.Event;

namespace AnomalyActors.Mqtt.Clustering;

/// <summary>
/// The site's one MQTT session in a cluster: a cluster singleton (on the oldest member) that runs
/// the subscriber's ingestion under the configured client id. When its member leaves, the singleton
/// stops ingesting (what it took becomes durable and is acknowledged) before it is handed over; when
/// its member dies, the next oldest takes over the same persistent session once the dead one is
/// downed, and the broker re-sends whatever was not acknowledged, which the intake recognises by
/// its message keys. One session means one ordered stream of publishes, as on a single node.
/// </summary>
public sealed class SiteSubscriber
{
    public const string ManagerName = "mqtt-site-subscriber";

    private readonly ActorSystem _system;
    private readonly TimeSpan _drainTimeout;

    private SiteSubscriber(ActorSystem system, TimeSpan drainTimeout)
    {
        _system = system;
        _drainTimeout = drainTimeout;
    }

    /// <summary>Starts this member's singleton manager; the singleton itself runs on one member of the cluster.</summary>
    /// <param name="create">A new, unstarted ingestion each time this member takes over the session.</param>
    /// <param name="report">Told when this member starts and stops holding the session.</param>
    public static SiteSubscriber Start(ActorSystem system, Func<MqttIngestion> create, TimeSpan connectTimeout, TimeSpan retryBackoff, TimeSpan drainTimeout, Action<string> report)
    {
        system.ActorOf(
            ClusterSingletonManager.Props(
                Props.Create(() => new SiteSubscriberActor(create, connectTimeout, retryBackoff, report)),
                new StopIngesting(ThenStop: true),
                ClusterSingletonManagerSettings.Create(system)),
            ManagerName);
        return new SiteSubscriber(system, drainTimeout);
    }

    /// <summary>
    /// Stops ingesting on this member if the singleton runs here (before the member's shards hand
    /// off), and keeps it from starting again here; the session passes to the next member with the
    /// hand-over. Does nothing when another member holds the session.
    /// </summary>
    public async Task StopHereAsync()
    {
        var local = await _system.ActorSelection($"/user/{ManagerName}/singleton")
            .Ask<ActorIdentity>(new Identify(null), TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        if (local.Subject is { } singleton)
        {
            // Draining may take the drain timeout; past it the ingestion gives up by itself.
            await singleton.Ask<Done>(new StopIngesting(ThenStop: false), _drainTimeout + TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        }
    }
}

/// <summary>Stop ingesting (and then stop the singleton too, when its manager hands it over).</summary>
internal sealed record StopIngesting(bool ThenStop);

internal sealed class SiteSubscriberActor : ReceiveActor, IWithTimers
{
    private sealed record Connect;

    private sealed record Connected(MqttIngestion Ingestion);

    private sealed record ConnectFailed(MqttIngestion Ingestion, Exception Cause);

    private sealed record Stopped;

    private readonly Func<MqttIngestion> _create;
    private readonly TimeSpan _connectTimeout;
    private readonly TimeSpan _retryBackoff;
    private readonly Action<string> _report;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly List<IActorRef> _waiting = [];

    // The ingestion this actor owns: connecting (_connecting) or running. One at a time.
    private MqttIngestion? _ingestion;
    private bool _connecting;
    private bool _stopping;
    private bool _thenStop;

    public SiteSubscriberActor(Func<MqttIngestion> create, TimeSpan connectTimeout, TimeSpan retryBackoff, Action<string> report)
    {
        _create = create;
        _report = report;
        _connectTimeout = connectTimeout;
        _retryBackoff = retryBackoff;

        Receive<Connect>(_ => StartIngestion());
        Receive<Connected>(c =>
        {
            _connecting = false;
            if (_stopping)
            {
                StopIngestion();
                return;
            }

            _report($"MQTT: this member now holds the site's MQTT session ({c.Ingestion.SourceId})");
        });
        Receive<ConnectFailed>(f =>
        {
            _connecting = false;
            _ingestion = null;
            // A failed start leaves a client that may still hold a socket.
            f.Ingestion.DisposeAsync().AsTask().PipeTo(Self, success: () => new Stopped(), failure: _ => new Stopped());
            if (!_stopping)
            {
                _log.Warning("The site's MQTT session could not be opened here ({0}); trying again in {1}", f.Cause.Message, _retryBackoff);
                Timers.StartSingleTimer(nameof(Connect), new Connect(), _retryBackoff);
            }
        });
        Receive<StopIngesting>(s =>
        {
            if (!Sender.IsNobody() && !Sender.Equals(Context.Parent))
            {
                _waiting.Add(Sender);
            }

            _thenStop |= s.ThenStop;
            if (_stopping)
            {
                // Already stopping, or stopped: a hand-over after the member's own stop finishes now.
                if (_ingestion is null)
                {
                    Finish();
                }

                return;
            }

            _stopping = true;
            Timers.Cancel(nameof(Connect));
            if (_ingestion is null)
            {
                Finish();
            }
            else if (!_connecting)
            {
                StopIngestion();
            }
        });
        Receive<Stopped>(_ =>
        {
            if (_stopping && !_connecting)
            {
                _ingestion = null;
                Finish();
            }
        });
    }

    public ITimerScheduler Timers { get; set; } = null!;

    protected override void PreStart() => Self.Tell(new Connect());

    private void StartIngestion()
    {
        if (_stopping || _ingestion is not null)
        {
            return;
        }

        var ingestion = _create();
        _ingestion = ingestion;
        _connecting = true;
        ingestion.StartAsync(_connectTimeout).PipeTo(Self, success: () => new Connected(ingestion), failure: e => new ConnectFailed(ingestion, e));
    }

    private void StopIngestion()
    {
        var ingestion = _ingestion!;
        _report("MQTT: this member lets go of the site's MQTT session once what it took is durable and acknowledged");
        ingestion.DisposeAsync().AsTask().PipeTo(Self, success: () => new Stopped(), failure: _ => new Stopped());
    }

    private void Finish()
    {
        foreach (var waiting in _waiting)
        {
            waiting.Tell(Done.Instance);
        }

        _waiting.Clear();
        if (_thenStop)
        {
            Context.Stop(Self);
        }
    }

    protected override void PostStop()
    {
        if (_ingestion is { } ingestion)
        {
            // Stopped without a hand-over (the actor system is going down): the session is left to
            // the broker, which re-sends what was not acknowledged to whoever takes it next.
            _ = ingestion.DisposeAsync().AsTask();
        }
    }
}
