using Akka.Actor;
using Akka.Event;
using AnomalyActors.Core.Results;
using AnomalyActors.Notifications.Log;

namespace AnomalyActors.Notifications;

/// <summary>
/// Hands this member's delivered alerts to the site's dispatcher (on this member, or a singleton on
/// another) and sends each again until the dispatcher answers that it has it, so a change is not
/// lost while the dispatcher moves between members or recovers its log. The dispatcher recognises
/// a change it already has, so sending again never notifies twice.
/// </summary>
public sealed class NotificationForwarder : ReceiveActor, IWithTimers
{
    /// <summary>How long a change goes unanswered before it is sent again.</summary>
    public static readonly TimeSpan ResendAfter = TimeSpan.FromSeconds(2);

    /// <summary>Changes held for a dispatcher that does not answer; the oldest give way beyond this.</summary>
    private const int MaxUnanswered = 100_000;

    private readonly IActorRef _dispatcher;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly SortedDictionary<long, AlertNotice> _unanswered = [];
    private readonly List<IActorRef> _drainers = [];
    private long _sequence;

    public NotificationForwarder(IActorRef dispatcher)
    {
        _dispatcher = dispatcher;
        Receive<AlertDelivered>(delivered =>
        {
            var change = new NotifyChange(++_sequence, AlertNotice.From(delivered.Alert));
            if (_unanswered.Count >= MaxUnanswered)
            {
                _log.Warning("The notification dispatcher has not answered for {0} alert changes; the oldest is not sent again", MaxUnanswered);
                _unanswered.Remove(_unanswered.Keys.First());
            }

            _unanswered[change.Sequence] = change.Notice;
            _dispatcher.Tell(change);
            if (!Timers.IsTimerActive(nameof(Resend)))
            {
                Timers.StartPeriodicTimer(nameof(Resend), Resend.Instance, ResendAfter);
            }
        });
        Receive<ChangeAccepted>(accepted =>
        {
            _unanswered.Remove(accepted.Sequence);
            if (_unanswered.Count == 0)
            {
                Timers.Cancel(nameof(Resend));
                foreach (var drainer in _drainers)
                {
                    drainer.Tell(Drained.Instance);
                }

                _drainers.Clear();
            }
        });
        Receive<Resend>(_ =>
        {
            foreach (var (sequence, notice) in _unanswered)
            {
                _dispatcher.Tell(new NotifyChange(sequence, notice));
            }
        });
        Receive<Drain>(_ =>
        {
            if (_unanswered.Count == 0)
            {
                Sender.Tell(Drained.Instance);
            }
            else
            {
                _drainers.Add(Sender);
            }
        });
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(IActorRef dispatcher) => Akka.Actor.Props.Create(() => new NotificationForwarder(dispatcher));

    private sealed class Resend
    {
        public static readonly Resend Instance = new();
    }
}

/// <summary>Answered with <see cref="Drained"/> once the dispatcher has every change this member sent it.</summary>
public sealed class Drain
{
    public static readonly Drain Instance = new();

    private Drain()
    {
    }
}

public sealed class Drained
{
    public static readonly Drained Instance = new();

    private Drained()
    {
    }
}
