using Akka.Actor;
using AnomalyActors.Core.Commands;
using AnomalyActors.Core.Protocol;
using AnomalyActors.Node.Actors;
using AnomalyActors.Node.Hosting;
using AnomalyActors.TestNode;
using Xunit;

namespace AnomalyActors.Node.Tests;

/// <summary>
/// An intake partition asked by many sensors at once (as after a member died with their slices in
/// flight) re-delivers from its journal: each sensor gets its own readings from the offset it asked
/// for, in order, then the completion.
/// </summary>
public sealed class IntakeRedeliverySpecs
{
    private const int ReadingsPerSensor = 30;

    private static readonly TestInput Input = new(sensors: 12, readingsPerSensor: ReadingsPerSensor, batchSize: 60);

    [Fact]
    public async Task Should_redeliver_to_each_sensor_its_own_readings_when_many_ask_at_once()
    {
        // Arrange: every reading durable and scored on a one-partition SQLite node
        var node = await AnomalyNode.StartAsync(TestNodeConfig.For(NodeFixture.NewDataDirectory(), partitions: 1, snapshotEvery: 1_000_000));
        try
        {
            await NodeFixture.FeedAsync(node, Input, 0, Input.Batches.Length);
            await NodeFixture.AwaitAsync(() => node.Metrics.ReadingsScored == Input.Total, TimeSpan.FromSeconds(60), "all readings scored");
            var views = await NodeFixture.QueryAsync(node, Input.Keys);

            // Act: every sensor asks at once, half of them for everything, half from their last reading
            var asks = views.Select((view, i) => (View: view, Inbox: Inbox.Create(node.System), From: i % 2 == 0 ? 0 : view.Offset)).ToArray();
            foreach (var ask in asks)
            {
                ask.Inbox.Send(node.Partitions, new RedeliverReadings(ask.View.PartitionId, ask.View.SensorId, ask.From));
            }

            // Assert: each gets its readings from there to its last, its own only, then the completion
            foreach (var (view, inbox, from) in asks)
            {
                var offsets = new List<long>();
                while (true)
                {
                    var message = inbox.Receive(TimeSpan.FromSeconds(30));
                    if (message is RedeliveryCompleted completed)
                    {
                        Assert.Equal(view.SensorId, completed.SensorId);
                        break;
                    }

                    var slice = Assert.IsType<ScoreReadings>(message);
                    Assert.Equal(view.SensorId, slice.SensorId);
                    Assert.True(slice.Replay);
                    offsets.AddRange(Enumerable.Range(0, slice.Values.Length).Select(slice.OffsetAt));
                }

                Assert.Equal(view.Offset, offsets[^1]);
                Assert.Equal(offsets.Order(), offsets);
                Assert.Equal(from == 0 ? ReadingsPerSensor : 1, offsets.Count(o => o >= from));
            }
        }
        finally
        {
            await node.StopAsync();
        }
    }

    [Fact]
    public async Task Should_finish_its_journal_writes_before_it_stops_for_a_hand_off()
    {
        // Arrange: a partition of its own (not one the node routes to) on the node's SQLite journal
        var node = await AnomalyNode.StartAsync(TestNodeConfig.For(NodeFixture.NewDataDirectory(), partitions: 1));
        try
        {
            var sensors = Inbox.Create(node.System);
            var partition = node.System.ActorOf(IntakePartitionActor.Props(7, node.Settings.Intake, durable: true, sensors.Receiver, node.Metrics));
            var source = Inbox.Create(node.System);
            source.Watch(partition);

            source.Send(partition, new AppendChunk(7, "test", 1, [new Reading("a/b/c", 1_000, 1.5)]));
            Assert.Equal(new ChunkAppended(7, "test", 1, Duplicate: false), source.Receive(TimeSpan.FromSeconds(30)));

            // Act: an append, the hand-off right behind it while its write is under way, then one more append
            source.Send(partition, new AppendChunk(7, "test", 2, [new Reading("a/b/c", 2_000, 2.5)]));
            source.Send(partition, IntakePartitionActor.HandOffPartition.Instance);
            source.Send(partition, new AppendChunk(7, "test", 3, [new Reading("a/b/c", 3_000, 3.5)]));

            // Assert: the third is refused at once (its source retries elsewhere), the second becomes
            // durable and is acknowledged, and only then does the partition stop
            var replies = Enumerable.Range(0, 3).Select(_ => source.Receive(TimeSpan.FromSeconds(30))).ToArray();
            Assert.Equal(3, Assert.Single(replies.OfType<ChunkAppendFailed>()).SourceSeq);
            Assert.Contains(new ChunkAppended(7, "test", 2, Duplicate: false), replies[..2]);
            Assert.IsType<Terminated>(replies[2]);
        }
        finally
        {
            await node.StopAsync();
        }
    }
}
