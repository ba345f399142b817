using Akka.Actor;
using Akka.TestKit.Xunit2;
using AnomalyActors.Core.Commands;
using AnomalyActors.Core.State;
using AnomalyActors.Detection;
using AnomalyActors.Node.Actors;
using AnomalyActors.Node.Settings;
using Xunit;

namespace AnomalyActors.Node.Tests;

/// <summary>
/// A sensor asked by its partition whether it applied the readings sent to it: the partition here is
/// a probe, so a slice can be lost on the way as one in flight to a member that died would be.
/// </summary>
public sealed class DeliveryCheckSpecs : TestKit
{
    private const string Sensor = "site-1/dev-1/temp";
    private const int Partition = 2;

    private static readonly SensorSettings Settings = new(
        CloseAfterInBand: 3,
        SnapshotEveryReadings: 1_000,
        SnapshotInterval: TimeSpan.FromMinutes(10),
        PassivateIdleAfter: TimeSpan.FromMinutes(10),
        RedeliveryTimeout: TimeSpan.FromSeconds(30),
        JournalEpisodes: false);

    public DeliveryCheckSpecs()
        : base("akka.persistence.journal.plugin = \"akka.persistence.journal.inmem\"\nakka.persistence.snapshot-store.plugin = \"akka.persistence.snapshot-store.inmem\"")
    {
    }

    [Fact]
    public void Should_confirm_what_it_applied_and_ask_for_a_slice_that_never_arrived()
    {
        // Arrange: offsets 0-2 arrive; 3-5 are lost on the way and the stream then goes quiet
        var partition = CreateTestProbe();
        var sensor = StartSensor();
        sensor.Tell(Slice(0, previous: -1, 1.0, 2.0, 3.0), partition.Ref);

        // Act / Assert: what arrived is confirmed
        sensor.Tell(new CheckDelivery(Sensor, Partition, 2), partition.Ref);
        partition.ExpectMsg(new DeliveryConfirmed(Partition, Sensor, 2));

        // Act / Assert: what did not is asked for, from the first missing offset
        sensor.Tell(new CheckDelivery(Sensor, Partition, 5), partition.Ref);
        partition.ExpectMsg(new RedeliverReadings(Partition, Sensor, 3));

        // Act: the partition re-delivers from its log
        sensor.Tell(Slice(3, previous: -1, 4.0, 5.0, 6.0) with { Replay = true }, partition.Ref);
        sensor.Tell(new RedeliveryCompleted(Sensor, Partition), partition.Ref);
        sensor.Tell(new CheckDelivery(Sensor, Partition, 5), partition.Ref);

        // Assert
        partition.ExpectMsg(new DeliveryConfirmed(Partition, Sensor, 5));
        sensor.Tell(new Core.Queries.GetSensorState(Sensor), TestActor);
        Assert.Equal(5, ExpectMsg<Core.Queries.SensorStateView>().Offset);
    }

    [Fact]
    public void Should_ask_the_partition_new_owner_at_once_when_its_check_comes_during_a_redelivery()
    {
        // Arrange: the sensor asked one owner of the partition, which then went away with its member
        var lostOwner = CreateTestProbe();
        var newOwner = CreateTestProbe();
        var sensor = StartSensor();
        sensor.Tell(Slice(0, previous: -1, 1.0), lostOwner.Ref);
        sensor.Tell(new CheckDelivery(Sensor, Partition, 4), lostOwner.Ref);
        lostOwner.ExpectMsg(new RedeliverReadings(Partition, Sensor, 1));

        // Act
        sensor.Tell(new CheckDelivery(Sensor, Partition, 4), newOwner.Ref);

        // Assert: asked again there, not after the 30 s re-delivery timeout
        newOwner.ExpectMsg(new RedeliverReadings(Partition, Sensor, 1), TimeSpan.FromSeconds(3));
        lostOwner.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
    }

    [Fact]
    public void Should_keep_its_request_where_it_is_when_another_partition_checks_during_a_redelivery()
    {
        // Arrange
        var owner = CreateTestProbe();
        var otherPartition = CreateTestProbe();
        var sensor = StartSensor();
        sensor.Tell(Slice(0, previous: -1, 1.0), owner.Ref);
        sensor.Tell(new CheckDelivery(Sensor, Partition, 4), owner.Ref);
        owner.ExpectMsg(new RedeliverReadings(Partition, Sensor, 1));

        // Act: readings of this stream never belong to another partition; its check must not redirect
        sensor.Tell(new CheckDelivery(Sensor, Partition + 1, 9), otherPartition.Ref);

        // Assert
        otherPartition.ExpectNoMsg(TimeSpan.FromMilliseconds(300));
    }

    [Fact]
    public void Should_stop_for_a_hand_off_while_it_waits_for_a_redelivery()
    {
        // Arrange: waiting for a partition that does not answer (it is being handed off itself)
        var partition = CreateTestProbe();
        var sensor = StartSensor();
        Watch(sensor);
        sensor.Tell(Slice(0, previous: -1, 1.0), partition.Ref);
        sensor.Tell(new CheckDelivery(Sensor, Partition, 4), partition.Ref);
        partition.ExpectMsg(new RedeliverReadings(Partition, Sensor, 1));

        // Act: the shard hands off
        sensor.Tell(PassivateSensor.Instance);

        // Assert: it stops now, not after the partition answers (the hand-off would wait for it)
        ExpectTerminated(sensor, TimeSpan.FromSeconds(3));
    }

    [Fact]
    public void Should_tell_a_checking_partition_what_its_snapshot_covers()
    {
        // Arrange: offsets 0-2 applied and snapshotted as the sensor stops; its next incarnation
        // recovers from that snapshot
        var partition = CreateTestProbe();
        var sensor = StartSensor(durable: true);
        Watch(sensor);
        sensor.Tell(Slice(0, previous: -1, 1.0, 2.0, 3.0), partition.Ref);
        sensor.Tell(PassivateSensor.Instance);
        partition.ExpectMsg(new ReportCheckpoint(Partition, Sensor, 2));
        ExpectTerminated(sensor);
        var next = StartSensor(durable: true);

        // Act: a partition that never heard of that snapshot (it went to the owner before it) asks
        next.Tell(new CheckDelivery(Sensor, Partition, 2), partition.Ref);

        // Assert: applied, and covered, so the partition can stop asking and commit past them
        partition.ExpectMsg(new DeliveryConfirmed(Partition, Sensor, 2));
        partition.ExpectMsg(new ReportCheckpoint(Partition, Sensor, 2));
    }

    private IActorRef StartSensor(bool durable = false)
    {
        var results = CreateTestProbe();
        var detectors = new DetectorSet([new ThresholdOptions(min: 0, max: 10).Create()], "thr");
        var wiring = new SensorWiring(Settings, Durable: durable, new ResultsSink(results.Ref, TakesEnriched: false), new NodeMetrics());
        return Sys.ActorOf(SensorActor.Props(Sensor, detectors, wiring));
    }

    private static ScoreReadings Slice(long first, long previous, params double[] values) =>
        new(Sensor, Partition, first, previous, values.Select((_, i) => 1_000L * (first + i)).ToArray(), values);
}
