using Akka.Actor;
using Akka.Configuration;
using AnomalyActors.Core.Commands;
using AnomalyActors.Core.Protocol;
using AnomalyActors.Core.Queries;
using AnomalyActors.Node.Hosting;
using AnomalyActors.TestNode;
using Xunit;

namespace AnomalyActors.Node.Tests;

/// <summary>
/// A broker resends what it did not see acknowledged, with the same packet id: after a crash the
/// intake must recognise those messages even when the chunks that carried their keys were deleted.
/// </summary>
public sealed class DeliveryKeyRecoverySpecs
{
    private const int Partitions = 2;
    private const int Window = 100;
    private const int MessagesPerBatch = 50;
    private const int Batches = 40;
    private const string Session = "mqtt:test-subscriber";

    /// <summary>Message m: one reading of stream s/d(m mod 10)/m, packet id m + 1.</summary>
    private static (Reading Reading, Delivery Delivery) Message(int m, bool resent)
    {
        var reading = new Reading($"s/d{m % 10}/m", 1_000 + m, m % 7);
        var key = new DeliveryKey(Session, (ushort)(m + 1), DeliveryKey.HashOf(reading.StreamKey, BitConverter.GetBytes(m)));
        return (reading, new Delivery(key, resent, 1, Window));
    }

    private static IngestReadings Batch(long seq, IEnumerable<int> messages, bool resent)
    {
        var made = messages.Select(m => Message(m, resent)).ToArray();
        return new IngestReadings("mqtt-node", seq, [.. made.Select(x => x.Reading)], new DeliveryLog([.. made.Select(x => x.Delivery)]));
    }

    private static async Task<PartitionStatus[]> StatusAsync(AnomalyNode node) =>
        await Task.WhenAll(Enumerable.Range(0, Partitions).Select(p => node.Partitions.Ask<PartitionStatus>(new GetPartitionStatus(p), TimeSpan.FromSeconds(10))));

    [Fact]
    public async Task Should_skip_resent_messages_after_a_crash_when_the_chunks_with_their_keys_were_deleted()
    {
        // Arrange: 2,000 keyed messages, the log trimmed down to its newest chunk per partition
        var config = ConfigurationFactory.ParseString("anomaly-actors.intake.delivery-keys-save-interval = 100ms")
            .WithFallback(TestNodeConfig.For(NodeFixture.NewDataDirectory(), partitions: Partitions, snapshotEvery: 40));
        var doomed = await AnomalyNode.StartAsync(NodeFixture.Crashable(config), systemName: "doomed");
        for (var b = 0; b < Batches; b++)
        {
            var reply = await doomed.IngestAsync(Batch(b + 1, Enumerable.Range(b * MessagesPerBatch, MessagesPerBatch), resent: false));
            Assert.IsType<ReadingsAccepted>(reply);
        }

        await NodeFixture.AwaitAsync(async () => (await StatusAsync(doomed)).All(s => s.RetainedChunks == 1), TimeSpan.FromSeconds(60),
            "every partition trimmed to its newest chunk");
        await doomed.System.Terminate();

        // Act: the broker resends the last window of messages (DUP) after the restart, then a new one
        var restarted = await AnomalyNode.StartAsync(config);
        const int Total = Batches * MessagesPerBatch;
        var reply2 = await restarted.IngestAsync(Batch(10_000, Enumerable.Range(Total - Window, Window + 1), resent: true));

        // Assert: only the new message is stored and scored
        Assert.IsType<ReadingsAccepted>(reply2);
        Assert.Equal(Window, restarted.Metrics.RedeliveredReadingsSkipped);
        Assert.Equal(1, restarted.Metrics.ReadingsDurable);
        var sensors = Enumerable.Range(0, 10).Select(d => $"s/d{d}/m").ToArray();
        await NodeFixture.AwaitAsync(async () => (await NodeFixture.QueryAsync(restarted, sensors)).Sum(v => v.ReadingsScored) >= Total + 1,
            TimeSpan.FromSeconds(30), "every reading scored");
        Assert.Equal(Total + 1, (await NodeFixture.QueryAsync(restarted, sensors)).Sum(v => v.ReadingsScored));
        await restarted.StopAsync();
    }
}
