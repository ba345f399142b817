using Akka.Actor;
using Akka.Cluster.Tools.Singleton;
using Akka.Event;
using AnomalyActors.Core.Results;
using AnomalyActors.Notifications.Channels;
using AnomalyActors.Notifications.Log;

namespace AnomalyActors.Notifications;

/// <summary>
/// A node's notifications: the dispatcher with its channels and its log (persisted in the node's
/// journal), fed by every alert the node's results sink delivers. In a cluster the dispatcher is a
/// singleton: every member forwards its alerts to the one member that sends for the whole site, so
/// an alert a sensor repeats on another member after a crash is still notified once.
/// </summary>
public sealed class Notifier : IAsyncDisposable
{
    /// <summary>How long a stopping node waits for notifications in flight (within the phase's default 5 s).</summary>
    public static readonly TimeSpan FlushTimeout = TimeSpan.FromSeconds(4);

    public const string DispatcherName = "notifications";

    private readonly ActorSystem _system;
    private readonly IActorRef _dispatcher;
    private readonly IActorRef _forwarder;
    private readonly bool _clustered;
    private readonly IReadOnlyDictionary<string, INotificationChannel> _channels;

    private Notifier(ActorSystem system, IActorRef dispatcher, IActorRef forwarder, bool clustered, IReadOnlyDictionary<string, INotificationChannel> channels, NotificationCounters counters)
    {
        _system = system;
        _dispatcher = dispatcher;
        _forwarder = forwarder;
        _clustered = clustered;
        _channels = channels;
        Counters = counters;
    }

    /// <summary>Outcomes of the dispatcher while it runs on this node (in a cluster, on the member holding it).</summary>
    public NotificationCounters Counters { get; }

    /// <summary>The dispatcher (or, in a cluster, the proxy that reaches it), for asking <see cref="GetNotificationLogStatus"/>.</summary>
    public IActorRef Dispatcher => _dispatcher;

    /// <param name="dashboard">The dashboard's address, for links in the messages; null without one.</param>
    /// <param name="clustered">One dispatcher for the whole cluster (a singleton) instead of one on this node.</param>
    /// <param name="channels">Channels by name instead of those the settings describe (tests).</param>
    public static Notifier Start(ActorSystem system, NotificationSettings settings, Uri? dashboard, bool clustered, IReadOnlyDictionary<string, INotificationChannel>? channels = null)
    {
        channels ??= settings.Channels.ToDictionary(c => c.Name, c => c switch
        {
            WebhookSettings webhook => (INotificationChannel)new WebhookChannel(webhook),
            EmailSettings email => new EmailChannel(email),
            _ => throw new ArgumentException($"unknown channel {c}"),
        });
        var counters = new NotificationCounters();
        var dispatcherProps = NotificationDispatcher.Supervised(settings, channels, counters, dashboard);
        IActorRef dispatcher;
        var shutdown = CoordinatedShutdown.Get(system);
        if (clustered)
        {
            // Handed over with a flush: the next member's dispatcher recovers what is still waiting.
            system.ActorOf(ClusterSingletonManager.Props(dispatcherProps, StopAfterFlush.Instance, ClusterSingletonManagerSettings.Create(system)), DispatcherName);
            dispatcher = system.ActorOf(ClusterSingletonProxy.Props($"/user/{DispatcherName}", ClusterSingletonProxySettings.Create(system)), DispatcherName + "-proxy");
        }
        else
        {
            dispatcher = system.ActorOf(dispatcherProps, DispatcherName);
        }

        var forwarder = system.ActorOf(NotificationForwarder.Props(dispatcher), "notification-forwarder");
        system.EventStream.Subscribe(forwarder, typeof(AlertDelivered));
        if (clustered)
        {
            // The sensors' final alerts are written when their shards stop, before the member leaves;
            // they reach the dispatcher while it can still be reached.
            shutdown.AddTask(CoordinatedShutdown.PhaseClusterExiting, "drain-notifications", () => DrainAsync(system, forwarder));
        }
        else
        {
            // The sensors' final alerts go out before the actor system ends, without waiting for
            // their group wait; what a failing channel holds stays in the log for the next start.
            shutdown.AddTask(CoordinatedShutdown.PhaseBeforeActorSystemTerminate, "flush-notifications", async () =>
            {
                await DrainAsync(system, forwarder).ConfigureAwait(false);
                await StopDispatcherAsync(dispatcher).ConfigureAwait(false);
                return Akka.Done.Instance;
            });
        }

        return new Notifier(system, dispatcher, forwarder, clustered, channels, counters);
    }

    private static async Task<Akka.Done> DrainAsync(ActorSystem system, IActorRef forwarder)
    {
        try
        {
            await forwarder.Ask<Drained>(Drain.Instance, TimeSpan.FromSeconds(2)).ConfigureAwait(false);
        }
        catch (AskTimeoutException)
        {
            system.Log.Warning("The notification dispatcher did not take this node's last alert changes in time; they are not notified unless a sensor repeats them");
        }

        return Akka.Done.Instance;
    }

    private static async Task StopDispatcherAsync(IActorRef dispatcher)
    {
        try
        {
            await dispatcher.GracefulStop(FlushTimeout + TimeSpan.FromSeconds(1), StopAfterFlush.Instance).ConfigureAwait(false);
        }
        catch (TaskCanceledException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_system.WhenTerminated.IsCompleted)
        {
            _system.EventStream.Unsubscribe(_forwarder);
            if (!_clustered)
            {
                await DrainAsync(_system, _forwarder).ConfigureAwait(false);
                await StopDispatcherAsync(_dispatcher).ConfigureAwait(false);
            }
        }

        foreach (var channel in _channels.Values)
        {
            channel.Dispose();
        }
    }
}
