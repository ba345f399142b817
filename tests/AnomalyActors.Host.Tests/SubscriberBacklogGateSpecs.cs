using AnomalyActors.Mqtt;
using Xunit;

namespace AnomalyActors.Host.Tests;

public sealed class SubscriberBacklogGateSpecs
{
    [Fact]
    public void Should_hold_above_the_limit_and_release_at_half_of_it()
    {
        var gate = new SubscriberBacklogGate(limit: 10);
        gate.Watch("ingest");

        for (var i = 0; i < 10; i++)
        {
            gate.Enqueued("ingest");
        }

        Assert.False(gate.Holding);
        gate.Enqueued("ingest");
        Assert.True(gate.Holding);
        var release = gate.Release;
        Assert.False(release.IsCompleted);

        for (var i = 0; i < 5; i++)
        {
            gate.Acknowledged("ingest");
        }

        Assert.True(gate.Holding);
        gate.Acknowledged("ingest");
        Assert.False(gate.Holding);
        Assert.True(release.IsCompletedSuccessfully);
        Assert.Equal(5, gate.OutstandingOf("ingest"));
    }

    [Fact]
    public void Should_ignore_clients_it_does_not_watch()
    {
        var gate = new SubscriberBacklogGate(limit: 2);

        for (var i = 0; i < 10; i++)
        {
            gate.Enqueued("device-7");
        }

        Assert.False(gate.Holding);
        Assert.Equal(0, gate.OutstandingOf("device-7"));
    }

    [Fact]
    public void Should_release_when_the_backlogged_session_is_gone()
    {
        var gate = new SubscriberBacklogGate(limit: 2);
        gate.Watch("ingest");
        for (var i = 0; i < 3; i++)
        {
            gate.Enqueued("ingest");
        }

        var release = gate.Release;

        gate.Forget("ingest");

        Assert.False(gate.Holding);
        Assert.True(release.IsCompletedSuccessfully);
    }

    [Fact]
    public void Should_never_count_below_zero()
    {
        var gate = new SubscriberBacklogGate(limit: 2);
        gate.Watch("ingest");

        gate.Acknowledged("ingest");
        gate.Enqueued("ingest");

        Assert.Equal(1, gate.OutstandingOf("ingest"));
    }

    [Fact]
    public void Should_refuse_a_limit_without_room_for_hysteresis() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new SubscriberBacklogGate(limit: 1));
}
