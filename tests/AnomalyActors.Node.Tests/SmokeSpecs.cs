using AnomalyActors.Node.Hosting;
using AnomalyActors.TestNode;
using Xunit;

namespace AnomalyActors.Node.Tests;

public sealed class SmokeSpecs
{
    [Fact]
    public async Task Should_score_every_ingested_reading()
    {
        var input = new TestInput(sensors: 50, readingsPerSensor: 400, batchSize: 1000);
        var node = await AnomalyNode.StartAsync(TestNodeConfig.For(NodeFixture.NewDataDirectory()));
        await NodeFixture.FeedAsync(node, input, 0, input.Batches.Length);
        await NodeFixture.AwaitAsync(() => node.Metrics.ReadingsScored == input.Total, TimeSpan.FromSeconds(30), "all readings scored");
        Assert.Equal(input.Total, node.Metrics.ReadingsScored);
        await node.StopAsync();
    }
}
