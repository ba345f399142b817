using System.Collections.Concurrent;
using Akka.Actor;
using Akka.Configuration;
using Akka.Event;
using AnomalyActors.Node.Hosting;
using AnomalyActors.TestNode;
using Xunit;

namespace AnomalyActors.Node.Tests;

public sealed class GracefulStopSpecs
{
    [Fact]
    public async Task Should_hand_the_sensors_off_while_the_intake_they_report_to_still_runs()
    {
        // Arrange: no sensor has snapshotted its readings yet, so each takes a final snapshot on the
        // way out and reports it to its intake partition (the node's cadence, not the tests' 1 s).
        var input = new TestInput(sensors: 200, readingsPerSensor: 50, batchSize: 1000);
        var config = ConfigurationFactory.ParseString("anomaly-actors.sensor.snapshot-interval = 10m")
            .WithFallback(TestNodeConfig.For(NodeFixture.NewDataDirectory(), partitions: 8));
        var node = await AnomalyNode.StartAsync(config);
        await NodeFixture.FeedAsync(node, input, 0, input.Batches.Length);
        await NodeFixture.AwaitAsync(() => node.Metrics.ReadingsScored == input.Total, TimeSpan.FromSeconds(30), "all readings scored");
        var snapshotsBefore = node.Metrics.SnapshotsSaved;
        var stopped = new ConcurrentQueue<string>();
        var warnings = new ConcurrentQueue<string>();
        var regions = new Dictionary<IActorRef, string> { [node.Sensors] = "sensors", [node.Partitions] = "intake" };
        node.System.ActorOf(Props.Create(() => new StopWatcher(stopped, regions)));
        node.System.EventStream.Subscribe(node.System.ActorOf(Props.Create(() => new WarningCollector(warnings))), typeof(Warning));

        // Act
        await node.StopAsync();

        // Assert: with both regions stopping together, reports could reach the intake region while
        // it handed off; it then waited for shard homes from a departing coordinator until sharding
        // gave up ("Graceful shutdown of shard region timed out"), and Ctrl+C took about 10 s.
        Assert.Equal(["sensors", "intake"], stopped.ToArray());
        Assert.Equal(input.Keys.Length, node.Metrics.SnapshotsSaved - snapshotsBefore);
        Assert.DoesNotContain(warnings, warning => warning.Contains("timed out", StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public async Task Should_not_hold_the_stop_with_delivery_checks_for_sensors_handing_off()
    {
        // Arrange: no sensor has snapshotted, so none has confirmed its last readings, and the
        // streams fall due for a delivery check a second after them: while the sensors hand off.
        var input = new TestInput(sensors: 10_000, readingsPerSensor: 3, batchSize: 1000);
        var config = ConfigurationFactory.ParseString("""
            anomaly-actors.sensor.snapshot-interval = 10m
            anomaly-actors.intake.delivery-check-after = 1s
            """)
            .WithFallback(TestNodeConfig.For(NodeFixture.NewDataDirectory(), partitions: 8));
        var node = await AnomalyNode.StartAsync(config);
        await NodeFixture.FeedAsync(node, input, 0, input.Batches.Length);
        await NodeFixture.AwaitAsync(() => node.Metrics.ReadingsScored == input.Total, TimeSpan.FromSeconds(60), "all readings scored");
        var warnings = new ConcurrentQueue<string>();
        node.System.EventStream.Subscribe(node.System.ActorOf(Props.Create(() => new WarningCollector(warnings))), typeof(Warning));

        // Act
        await node.StopAsync();

        // Assert: a check sent to a sensor handing off waited in the sensors' region for a home
        // that never came, and the region's stop ran into its timeout (10 s on every such stop).
        Assert.DoesNotContain(warnings, warning => warning.Contains("timed out", StringComparison.OrdinalIgnoreCase));
    }

    private sealed class StopWatcher : ReceiveActor
    {
        public StopWatcher(ConcurrentQueue<string> stopped, Dictionary<IActorRef, string> regions)
        {
            foreach (var region in regions.Keys)
            {
                Context.Watch(region);
            }

            Receive<Terminated>(t => stopped.Enqueue(regions[t.ActorRef]));
        }
    }

    private sealed class WarningCollector : ReceiveActor
    {
        public WarningCollector(ConcurrentQueue<string> warnings) =>
            Receive<Warning>(warning => warnings.Enqueue($"{warning.LogSource}: {warning.Message}"));
    }
}
