using AnomalyActors.Core.Protocol;
using AnomalyActors.Notifications.Log;
using Xunit;

namespace AnomalyActors.Notifications.Tests;

public sealed class NotificationLogStateSpecs
{
    private static readonly NotificationTarget Hook = new("r1", "hook");
    private static readonly NotificationTarget Mail = new("r1", "mail");

    private static AlertNotice Notice(string id, bool firing = true) =>
        new(id, new StreamId("s1", "fan", "rpm"), firing, "major", DateTimeOffset.UnixEpoch, 1, 0.6, "text");

    [Fact]
    public void Should_accept_a_change_once_per_target_whether_waiting_or_delivered()
    {
        var state = new NotificationLogState();
        var accepted = state.Decide(Notice("a#1"), [Hook], 10)!;
        state.Apply(accepted);

        Assert.Null(state.Decide(Notice("a#1"), [Hook], 11));
        var forMail = state.Decide(Notice("a#1"), [Hook, Mail], 12)!;
        Assert.Equal([Mail], forMail.Targets);
        state.Apply(forMail);

        state.Apply(state.Settle([NotificationLogState.KeyOf(Hook, Notice("a#1"))], 20, delivered: true)!);
        Assert.Null(state.Decide(Notice("a#1"), [Hook, Mail], 21));
        Assert.NotNull(state.Decide(Notice("a#1", firing: false), [Hook], 22));
        Assert.Equal([Mail], state.Pending.Select(p => p.Target));
        Assert.Null(state.Settle([NotificationLogState.KeyOf(Hook, Notice("a#1"))], 23, delivered: true));
    }

    [Fact]
    public void Should_never_record_a_reminder()
    {
        Assert.Null(new NotificationLogState().Decide(Notice("a#1") with { Repeat = true }, [Hook], 1));
    }

    [Fact]
    public void Should_keep_what_waits_and_forget_settled_changes_past_the_retention_in_a_snapshot()
    {
        var state = new NotificationLogState();
        foreach (var (id, at) in new[] { ("old#1", 100L), ("new#1", 900L), ("waiting#1", 950L) })
        {
            state.Apply(state.Decide(Notice(id), [Hook], at)!);
        }

        state.Apply(state.Settle([NotificationLogState.KeyOf(Hook, Notice("old#1"))], 100, delivered: true)!);
        state.Apply(state.Settle([NotificationLogState.KeyOf(Hook, Notice("new#1"))], 900, delivered: true)!);

        var restored = NotificationLogState.From(state.ToSnapshot(keepSettledFromMs: 500));

        Assert.Equal(1, restored.SettledCount);
        Assert.True(restored.IsSettled(NotificationLogState.KeyOf(Hook, Notice("new#1"))));
        Assert.Equal("waiting#1", Assert.Single(restored.Pending).Notice.AlertId);
        Assert.NotNull(restored.Decide(Notice("old#1"), [Hook], 1000));
    }
}
