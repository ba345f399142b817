using Akka.Actor;
using Akka.Event;
using AnomalyActors.Core.Results;
using AnomalyActors.Notifications.Channels;

namespace AnomalyActors.Notifications;

/// <summary>
/// A node's notifications: the dispatcher fed by every alert the node's results sink delivers, its
/// channels, and the log of what was delivered (notifications.jsonl in the data directory).
/// </summary>
public sealed class Notifier : IAsyncDisposable
{
    /// <summary>How long a stopping node waits for notifications in flight (within the phase's default 5 s).</summary>
    public static readonly TimeSpan FlushTimeout = TimeSpan.FromSeconds(4);

    private readonly ActorSystem _system;
    private readonly IActorRef _dispatcher;
    private readonly NotificationLog _log;
    private readonly IReadOnlyDictionary<string, INotificationChannel> _channels;

    private Notifier(ActorSystem system, IActorRef dispatcher, NotificationLog log, IReadOnlyDictionary<string, INotificationChannel> channels, NotificationCounters counters)
    {
        _system = system;
        _dispatcher = dispatcher;
        _log = log;
        _channels = channels;
        Counters = counters;
    }

    public NotificationCounters Counters { get; }

    /// <param name="dashboard">The dashboard's address, for links in the messages; null without one.</param>
    /// <param name="channels">Channels by name instead of those the settings describe (tests).</param>
    public static Notifier Start(ActorSystem system, NotificationSettings settings, string dataDirectory, Uri? dashboard, IReadOnlyDictionary<string, INotificationChannel>? channels = null)
    {
        channels ??= settings.Channels.ToDictionary(c => c.Name, c => c switch
        {
            WebhookSettings webhook => (INotificationChannel)new WebhookChannel(webhook),
            EmailSettings email => new EmailChannel(email),
            _ => throw new ArgumentException($"unknown channel {c}"),
        });
        var log = NotificationLog.Open(Path.Combine(dataDirectory, "notifications.jsonl"));
        var counters = new NotificationCounters();
        var dispatcher = system.ActorOf(NotificationDispatcher.Props(settings, log, channels, counters, dashboard), "notifications");
        system.EventStream.Subscribe(dispatcher, typeof(AlertDelivered));
        // The sensors' final alerts are written while the node stops: they go out before the actor
        // system ends, without waiting for their group wait.
        CoordinatedShutdown.Get(system).AddTask(CoordinatedShutdown.PhaseBeforeActorSystemTerminate, "flush-notifications", async () =>
        {
            try
            {
                await dispatcher.Ask<Flushed>(FlushAll.Instance, FlushTimeout).ConfigureAwait(false);
            }
            catch (AskTimeoutException)
            {
                system.Log.Warning("Notifications still in flight after {0} s at the stop; they are not recorded as delivered", FlushTimeout.TotalSeconds);
            }

            return Akka.Done.Instance;
        });
        return new Notifier(system, dispatcher, log, channels, counters);
    }

    public async ValueTask DisposeAsync()
    {
        if (!_system.WhenTerminated.IsCompleted)
        {
            _system.EventStream.Unsubscribe(_dispatcher);
            try
            {
                await _dispatcher.GracefulStop(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
            }
            catch (TaskCanceledException)
            {
            }
        }

        _log.Dispose();
        foreach (var channel in _channels.Values)
        {
            channel.Dispose();
        }
    }
}
