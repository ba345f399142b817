using Akka.Actor;
using Akka.TestKit.Xunit2;
using AnomalyActors.Core.Protocol;
using AnomalyActors.Notifications.Log;
using Xunit;

namespace AnomalyActors.Notifications.Tests;

/// <summary>Every persisted or remoted notification message survives its serializer, field for field.</summary>
public sealed class NotificationSerializerSpecs() : TestKit(ShippedAkkaConfig.Local)
{
    private static readonly AlertNotice Firing = new(
        "dc1/CPU-FAN/rpm#3", new StreamId("dc1", "CPU-FAN", "rpm"), true, "critical", DateTimeOffset.FromUnixTimeMilliseconds(1_765_000_000_123), 1180.5, 0.97,
        "Anomaly detected on CPU-FAN rpm at site dc1 with the ID dc1/CPU-FAN/rpm#3");

    private static readonly AlertNotice Resolved = Firing with { Firing = false, Value = double.NaN, Repeat = true, Text = "é ✓ \n quoted \"text\"" };

    private T RoundTrip<T>(T message, string manifest)
        where T : class
    {
        var serializer = Sys.Serialization.FindSerializerFor(message);
        Assert.IsType<NotificationSerializer>(serializer);
        var stringManifest = ((NotificationSerializer)serializer).Manifest(message);
        Assert.Equal(manifest, stringManifest);
        return Assert.IsType<T>(Sys.Serialization.Deserialize(serializer.ToBinary(message), serializer.Identifier, stringManifest));
    }

    [Fact]
    public void Should_round_trip_an_acceptance()
    {
        var accepted = new NotificationAccepted(Firing, [new NotificationTarget("dc1-critical", "ops-hook"), new NotificationTarget("all", "ops-mail")], 1_765_000_001_000);
        var back = RoundTrip(accepted, "na");
        Assert.Equal(accepted.Notice, back.Notice);
        Assert.Equal(accepted.Targets, back.Targets);
        Assert.Equal(accepted.AtMs, back.AtMs);
    }

    [Fact]
    public void Should_round_trip_a_settlement()
    {
        var settled = new NotificationsSettled(["r|c|dc1/CPU-FAN/rpm#3|firing", "r|c|dc1/CPU-FAN/rpm#3|resolved"], 42, Delivered: false);
        var back = RoundTrip(settled, "nx");
        Assert.Equal(settled.Keys, back.Keys);
        Assert.Equal((42L, false), (back.AtMs, back.Delivered));
    }

    [Fact]
    public void Should_round_trip_a_snapshot_with_a_value_that_is_not_a_number()
    {
        var snapshot = new NotificationLogSnapshot([new PendingNotification(new NotificationTarget("r", "c"), Resolved)], [new SettledNotification("r|c|x#1|firing", 7)]);
        var back = RoundTrip(snapshot, "nl");
        var pending = Assert.Single(back.Pending);
        Assert.Equal(new NotificationTarget("r", "c"), pending.Target);
        Assert.Equal(Resolved, pending.Notice);
        Assert.True(double.IsNaN(pending.Notice.Value));
        Assert.Equal(snapshot.Settled, back.Settled);
    }

    [Fact]
    public void Should_round_trip_the_changes_members_send_and_their_answers()
    {
        Assert.Equal(new NotifyChange(9, Firing), RoundTrip(new NotifyChange(9, Firing), "nc"));
        Assert.Equal(new ChangeAccepted(9), RoundTrip(new ChangeAccepted(9), "nk"));
    }

    [Fact]
    public void Should_refuse_an_unknown_layout_version()
    {
        var serializer = new NotificationSerializer((ExtendedActorSystem)Sys);
        var bytes = serializer.ToBinary(new ChangeAccepted(1));
        bytes[0] = 99;
        Assert.Throws<System.Runtime.Serialization.SerializationException>(() => serializer.FromBinary(bytes, "nk"));
    }
}
