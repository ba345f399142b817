using System.Net;
using Akka.Actor;
using Akka.TestKit.Xunit2;
using AnomalyActors.Core.Events;
using AnomalyActors.Core.Protocol;
using AnomalyActors.Core.Results;
using AnomalyActors.Notifications.Channels;
using AnomalyActors.Notifications.Log;
using AnomalyActors.Testing;
using Xunit;

namespace AnomalyActors.Notifications.Tests;

public sealed class NotificationDispatcherSpecs() : TestKit(ShippedAkkaConfig.Local)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);
    private static readonly DateTimeOffset Start = new(2026, 12, 6, 12, 0, 0, TimeSpan.Zero);
    private DateTimeOffset _now = Start;

    private static EpisodeOpened Open(string sensor, long episode, double grade = 0.95) => new(sensor, episode, episode * 10, Start.ToUnixTimeMilliseconds(), 115.5, grade);

    private static EpisodeClosed Close(string sensor, long episode) => new(sensor, episode, episode * 10 + 4, Start.AddMinutes(1).ToUnixTimeMilliseconds(), 4, 0.97);

    private static Route RouteTo(string channel, string match = "*/*/*", int minSeverity = 0, TimeSpan? groupWait = null, TimeSpan? repeat = null, string[]? groupBy = null) =>
        new("r1", new StreamGlob(match), minSeverity, [channel], groupBy ?? ["site"], groupWait ?? TimeSpan.FromMilliseconds(200), repeat ?? TimeSpan.FromHours(4));

    private static NotificationSettings Settings(Route route, params Silence[] silences) =>
        new([], [route], silences, TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(1), 10_000, NotificationSettings.DefaultLogRetention);

    private (IActorRef Dispatcher, NotificationCounters Counters) StartDispatcher(NotificationSettings settings, INotificationChannel channel)
    {
        var counters = new NotificationCounters();
        var dispatcher = Sys.ActorOf(NotificationDispatcher.Props(settings, new Dictionary<string, INotificationChannel> { [channel.Name] = channel }, counters,
            new Uri("http://127.0.0.1:8686/"), () => _now));
        return (dispatcher, counters);
    }

    private static Task<NotificationLogStatus> LogOf(IActorRef dispatcher) => dispatcher.Ask<NotificationLogStatus>(GetNotificationLogStatus.Instance, Wait);

    [Fact]
    public async Task Should_record_exactly_one_delivery_when_a_webhook_fails_first_and_never_send_a_change_twice()
    {
        await using var sink = new WebhookSink(HttpStatusCode.InternalServerError);
        using var webhook = new WebhookChannel(new WebhookSettings("hook", sink.Url, TimeSpan.FromSeconds(5), "s3cret-token"));
        var settings = Settings(RouteTo("hook"));
        var (dispatcher, counters) = StartDispatcher(settings, webhook);

        dispatcher.Tell(new AlertDelivered(Open("s1/cpu-fan/rpm", 1)));
        await AwaitConditionAsync(() => Task.FromResult(counters.Of("delivered", "hook") == 1), Wait);

        Assert.Equal([HttpStatusCode.InternalServerError, HttpStatusCode.OK], sink.Requests.Select(r => r.Answer));
        Assert.Equal(1, counters.Of("failed", "hook"));
        Assert.Equal(1, (await LogOf(dispatcher)).Settled);
        var (_, body, authorization) = sink.Requests.Last();
        Assert.Equal("Bearer s3cret-token", authorization);
        Assert.Equal("4", body.GetProperty("version").GetString());
        Assert.Equal("firing", body.GetProperty("status").GetString());
        Assert.Equal("s1", body.GetProperty("groupLabels").GetProperty("site").GetString());
        var alert = Assert.Single(body.GetProperty("alerts").EnumerateArray());
        Assert.Equal("s1/cpu-fan/rpm#1", alert.GetProperty("labels").GetProperty("alert_id").GetString());
        Assert.Equal("AnomalyDetected", alert.GetProperty("labels").GetProperty("alertname").GetString());
        Assert.Equal("critical", alert.GetProperty("labels").GetProperty("severity").GetString());
        Assert.StartsWith("Anomaly detected on cpu-fan rpm at site s1 with the ID s1/cpu-fan/rpm#1", alert.GetProperty("annotations").GetProperty("summary").GetString());
        Assert.Equal("http://127.0.0.1:8686/sensor?id=s1%2Fcpu-fan%2Frpm", alert.GetProperty("generatorURL").GetString());

        // The sensor repeats its alert (after a crash it sends it again with the same id): nothing new.
        dispatcher.Tell(new AlertDelivered(Open("s1/cpu-fan/rpm", 1)));
        await Task.Delay(1000);
        Assert.Equal(2, sink.Requests.Count);

        // A restart on the same journal: the repeat is still known; the close is new.
        await dispatcher.GracefulStop(Wait);
        var (again, againCounters) = StartDispatcher(settings, webhook);
        again.Tell(new AlertDelivered(Open("s1/cpu-fan/rpm", 1)));
        again.Tell(new AlertDelivered(Close("s1/cpu-fan/rpm", 1)));
        await AwaitConditionAsync(() => Task.FromResult(againCounters.Of("delivered", "hook") == 1), Wait);
        await Task.Delay(500);

        Assert.Equal(3, sink.Requests.Count);
        var resolved = sink.Requests.Last().Body;
        Assert.Equal("resolved", resolved.GetProperty("status").GetString());
        Assert.Equal("resolved", Assert.Single(resolved.GetProperty("alerts").EnumerateArray()).GetProperty("status").GetString());
        Assert.Equal(1, againCounters.Of("repeat-skipped", "hook"));
        await again.GracefulStop(Wait);
    }

    [Fact]
    public async Task Should_mail_each_group_once_with_only_the_severities_its_route_takes()
    {
        await using var smtp = new SmtpSink();
        using var email = new EmailChannel(new EmailSettings("ops-mail", "127.0.0.1", smtp.Port, SmtpTls.None, null, null, "anomaly-actors@example.com", ["ops@example.com"], TimeSpan.FromSeconds(10)));
        var (dispatcher, counters) = StartDispatcher(Settings(RouteTo("ops-mail", minSeverity: 1, groupWait: TimeSpan.FromMilliseconds(500))), email);

        dispatcher.Tell(new AlertDelivered(Open("s1/CPU-FAN/rpm", 1, grade: 0.95)));
        dispatcher.Tell(new AlertDelivered(Open("s1/pump-2/flow", 1, grade: 0.2)));
        dispatcher.Tell(new AlertDelivered(Open("s2/CPU-FAN/rpm", 3, grade: 0.6)));
        await AwaitConditionAsync(() => Task.FromResult(counters.Of("delivered", "ops-mail") == 2), Wait);
        await Task.Delay(500);

        var mails = smtp.Mails.OrderBy(m => m.Subject, StringComparer.Ordinal).ToList();
        Assert.Equal(2, mails.Count);
        Assert.Equal("[critical] Anomaly detected on CPU-FAN rpm with the ID s1/CPU-FAN/rpm#1", mails[0].Subject);
        Assert.Equal("[major] Anomaly detected on CPU-FAN rpm with the ID s2/CPU-FAN/rpm#3", mails[1].Subject);
        Assert.Equal("ops@example.com", mails[0].To.Mailboxes.Single().Address);
        Assert.Contains("http://127.0.0.1:8686/sensor?id=s1%2FCPU-FAN%2Frpm", mails[0].TextBody);
        Assert.DoesNotContain(smtp.Mails, m => (m.TextBody ?? string.Empty).Contains("pump-2", StringComparison.Ordinal));

        // An episode that opens and closes within the group wait: one mail with both changes.
        dispatcher.Tell(new AlertDelivered(Open("s1/CPU-FAN/rpm", 2)));
        dispatcher.Tell(new AlertDelivered(Close("s1/CPU-FAN/rpm", 2)));
        await AwaitConditionAsync(() => Task.FromResult(smtp.Mails.Count == 3), Wait);
        var grouped = smtp.Mails.Last();
        Assert.Equal("2 anomaly notifications (1 firing, 1 resolved) for site s1", grouped.Subject);
        Assert.Contains("[firing] [critical]", grouped.TextBody);
        Assert.Contains("[resolved] [critical]", grouped.TextBody);
        Assert.Equal(4, (await LogOf(dispatcher)).Settled);
        await dispatcher.GracefulStop(Wait);
    }

    [Fact]
    public async Task Should_not_notify_a_silenced_stream_until_the_silence_expires()
    {
        await using var sink = new WebhookSink();
        using var webhook = new WebhookChannel(new WebhookSettings("hook", sink.Url, TimeSpan.FromSeconds(5), null));
        var silence = new Silence(new StreamGlob("s1/boiler-*/*"), Start.AddMinutes(30), null, "boiler service");
        var (dispatcher, counters) = StartDispatcher(Settings(RouteTo("hook"), silence), webhook);

        dispatcher.Tell(new AlertDelivered(Open("s1/boiler-7/temp", 1)));
        dispatcher.Tell(new AlertDelivered(Open("s1/fan-1/rpm", 1)));
        await AwaitConditionAsync(() => Task.FromResult(counters.Of("delivered", "hook") == 1), Wait);
        Assert.Equal(1, counters.Of("silenced", "*"));
        Assert.Equal("s1/fan-1/rpm#1", Assert.Single(Assert.Single(sink.Requests).Body.GetProperty("alerts").EnumerateArray()).GetProperty("labels").GetProperty("alert_id").GetString());

        _now = Start.AddMinutes(31);
        dispatcher.Tell(new AlertDelivered(Close("s1/boiler-7/temp", 1)));
        await AwaitConditionAsync(() => Task.FromResult(sink.Requests.Count == 2), Wait);
        Assert.Equal("resolved", sink.Requests.Last().Body.GetProperty("status").GetString());
        await dispatcher.GracefulStop(Wait);
    }

    [Fact]
    public async Task Should_remind_of_an_alert_still_open_every_repeat_interval_until_it_closes()
    {
        await using var sink = new WebhookSink();
        using var webhook = new WebhookChannel(new WebhookSettings("hook", sink.Url, TimeSpan.FromSeconds(5), null));
        var (dispatcher, counters) = StartDispatcher(Settings(RouteTo("hook", repeat: TimeSpan.FromSeconds(1))), webhook);

        dispatcher.Tell(new AlertDelivered(Open("s1/fan-1/rpm", 1)));
        await AwaitConditionAsync(() => Task.FromResult(sink.Requests.Count == 1), Wait);
        _now = Start.AddSeconds(2);
        await AwaitConditionAsync(() => Task.FromResult(sink.Requests.Count == 2), Wait);
        Assert.Equal("firing", sink.Requests.Last().Body.GetProperty("status").GetString());

        dispatcher.Tell(new AlertDelivered(Close("s1/fan-1/rpm", 1)));
        await AwaitConditionAsync(() => Task.FromResult(sink.Requests.Count == 3), Wait);
        _now = Start.AddSeconds(10);
        await Task.Delay(1500);
        Assert.Equal(3, sink.Requests.Count);
        // Reminders are not changes: the log holds the open and the close only.
        Assert.Equal(2, (await LogOf(dispatcher)).Settled);
        await dispatcher.GracefulStop(Wait);
    }

    [Fact]
    public async Task Should_send_every_waiting_group_at_once_when_flushed_for_a_stop()
    {
        await using var sink = new WebhookSink();
        using var webhook = new WebhookChannel(new WebhookSettings("hook", sink.Url, TimeSpan.FromSeconds(5), null));
        var (dispatcher, counters) = StartDispatcher(Settings(RouteTo("hook", groupWait: TimeSpan.FromMinutes(10))), webhook);
        dispatcher.Tell(new AlertDelivered(Open("s1/fan-1/rpm", 1)));
        dispatcher.Tell(new AlertDelivered(Open("s2/fan-1/rpm", 1)));
        await Task.Delay(300);
        Assert.Empty(sink.Requests);

        await dispatcher.Ask<Flushed>(FlushAll.Instance, Wait);

        Assert.Equal(2, sink.Requests.Count);
        Assert.Equal(2, counters.Of("delivered", "hook"));
        Assert.Equal(2, (await LogOf(dispatcher)).Settled);
        await dispatcher.GracefulStop(Wait);
    }

    [Fact]
    public async Task Should_send_what_waits_and_stop_when_handed_over_and_leave_nothing_for_the_next_dispatcher()
    {
        await using var sink = new WebhookSink();
        using var webhook = new WebhookChannel(new WebhookSettings("hook", sink.Url, TimeSpan.FromSeconds(5), null));
        var settings = Settings(RouteTo("hook", groupWait: TimeSpan.FromMinutes(10)));
        var channels = new Dictionary<string, INotificationChannel> { ["hook"] = webhook };
        var supervised = Sys.ActorOf(NotificationDispatcher.Supervised(settings, channels, new NotificationCounters(), null));
        supervised.Tell(new AlertDelivered(Open("s1/fan-1/rpm", 1)));
        await AwaitConditionAsync(async () => (await LogOf(supervised)).Pending == 1, Wait);

        // What a cluster singleton's hand-over (or a node's stop) sends the dispatcher's supervisor.
        Assert.True(await supervised.GracefulStop(Wait, StopAfterFlush.Instance));

        Assert.Single(sink.Requests);
        var (next, nextCounters) = StartDispatcher(settings, webhook);
        Assert.Equal(new NotificationLogStatus(1, 0), await LogOf(next));
        next.Tell(new AlertDelivered(Open("s1/fan-1/rpm", 1)));
        await AwaitConditionAsync(() => Task.FromResult(nextCounters.Of("repeat-skipped", "hook") == 1), Wait);
        Assert.Single(sink.Requests);
        await next.GracefulStop(Wait);
    }

    [Fact]
    public async Task Should_send_after_a_restart_what_was_accepted_and_not_delivered()
    {
        // Arrange: a receiver that is not there (nothing listens on its port)
        var down = new Uri($"http://127.0.0.1:{FreePort.Next()}/hook");
        using (var unreachable = new WebhookChannel(new WebhookSettings("hook", down, TimeSpan.FromSeconds(2), null)))
        {
            var (dispatcher, counters) = StartDispatcher(Settings(RouteTo("hook")), unreachable);
            dispatcher.Tell(new AlertDelivered(Open("s1/fan-1/rpm", 1)));
            await AwaitConditionAsync(() => Task.FromResult(counters.Of("failed", "hook") >= 1), Wait);

            // Act: the dispatcher goes without a flush (as in a crash, the journal has the acceptance)
            await dispatcher.GracefulStop(Wait);
        }

        // Assert: the next run sends it
        await using var sink = new WebhookSink();
        using var webhook = new WebhookChannel(new WebhookSettings("hook", sink.Url, TimeSpan.FromSeconds(5), null));
        var (again, againCounters) = StartDispatcher(Settings(RouteTo("hook")), webhook);
        await AwaitConditionAsync(() => Task.FromResult(againCounters.Of("delivered", "hook") == 1), Wait);
        Assert.Equal("s1/fan-1/rpm#1", Assert.Single(Assert.Single(sink.Requests).Body.GetProperty("alerts").EnumerateArray()).GetProperty("labels").GetProperty("alert_id").GetString());
        Assert.Equal(new NotificationLogStatus(1, 0), await LogOf(again));
        await again.GracefulStop(Wait);
    }

    [Fact]
    public async Task Should_group_by_the_routes_labels()
    {
        await using var sink = new WebhookSink();
        using var webhook = new WebhookChannel(new WebhookSettings("hook", sink.Url, TimeSpan.FromSeconds(5), null));
        var (dispatcher, _) = StartDispatcher(Settings(RouteTo("hook", groupWait: TimeSpan.FromMilliseconds(500))), webhook);

        foreach (var sensor in new[] { "s1/a/x", "s1/b/x", "s2/c/x" })
        {
            dispatcher.Tell(new AlertDelivered(Open(sensor, 1)));
        }

        await AwaitConditionAsync(() => Task.FromResult(sink.Requests.Count == 2), Wait);
        await Task.Delay(700);
        var bySite = sink.Requests.ToDictionary(r => r.Body.GetProperty("groupLabels").GetProperty("site").GetString()!, r => r.Body.GetProperty("alerts").GetArrayLength());
        Assert.Equal(new Dictionary<string, int> { ["s1"] = 2, ["s2"] = 1 }, bySite);
        await dispatcher.GracefulStop(Wait);
    }
}
