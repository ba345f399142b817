using Akka.Actor;
using Akka.TestKit.Xunit2;
using AnomalyActors.Core.Events;
using AnomalyActors.Core.Results;
using AnomalyActors.Notifications.Log;
using Xunit;

namespace AnomalyActors.Notifications.Tests;

public sealed class NotificationForwarderSpecs() : TestKit(ShippedAkkaConfig.Local)
{
    [Fact]
    public void Should_send_a_change_again_until_the_dispatcher_has_it_and_then_report_drained()
    {
        var dispatcher = CreateTestProbe();
        var forwarder = Sys.ActorOf(NotificationForwarder.Props(dispatcher.Ref));
        forwarder.Tell(new AlertDelivered(new EpisodeOpened("s1/fan/rpm", 1, 10, 0, 5, 0.9)));

        // Unanswered (the dispatcher is moving to another member): the same change comes again.
        var first = dispatcher.ExpectMsg<NotifyChange>();
        var again = dispatcher.ExpectMsg<NotifyChange>(NotificationForwarder.ResendAfter * 3);
        Assert.Equal(first, again);
        Assert.Equal("s1/fan/rpm#1", again.Notice.AlertId);

        forwarder.Tell(Drain.Instance, TestActor);
        ExpectNoMsg(TimeSpan.FromMilliseconds(200));
        forwarder.Tell(new ChangeAccepted(again.Sequence), dispatcher.Ref);
        ExpectMsg<Drained>();
        dispatcher.ExpectNoMsg(NotificationForwarder.ResendAfter * 2);
    }
}
