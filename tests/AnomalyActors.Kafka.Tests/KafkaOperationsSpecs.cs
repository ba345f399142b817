using System.Net.Http.Json;
using System.Text.Json;
using AnomalyActors.Host;
using AnomalyActors.Kafka.Testing;
using AnomalyActors.Node.Tests;
using AnomalyActors.TestNode;
using AnomalyActors.Testing;
using Xunit;

namespace AnomalyActors.Kafka.Tests;

/// <summary>The dashboard of a node in Kafka mode shows the site's topic sizes and the consumer group's lag.</summary>
public sealed class KafkaOperationsSpecs : IDisposable
{
    private readonly MockKafkaCluster _cluster = new(brokers: 1);

    public void Dispose() => _cluster.Dispose();

    [Fact]
    public async Task Should_show_the_topics_sizes_and_a_lag_that_drains_to_zero()
    {
        var site = new KafkaSite(_cluster, "ops").Create();
        var input = new TestInput(sensors: 50, readingsPerSensor: 100, batchSize: 1000, spikeProbability: 0.01);
        await site.ProduceAsync(input.Batches.SelectMany(b => b));
        await using var node = await AnomalyHost.StartAsync(site.NodeConfig(NodeFixture.NewDataDirectory(), "ops-group", snapshotEvery: 20, alarmAfter: 20));
        using var client = new HttpClient { BaseAddress = node.Dashboard!.Address };

        JsonElement kafka = default;
        await NodeFixture.AwaitAsync(() =>
        {
            kafka = client.GetFromJsonAsync<JsonElement>("/api/operations").Result.GetProperty("kafka");
            return kafka.ValueKind == JsonValueKind.Object
                && kafka.GetProperty("topics").EnumerateArray().Any(t => t.GetProperty("topic").GetString() == site.Readings && t.GetProperty("messages").GetInt64() == site.Produced)
                && kafka.GetProperty("readingsLag").ValueKind == JsonValueKind.Number && kafka.GetProperty("readingsLag").GetInt64() == 0;
        }, TimeSpan.FromSeconds(90), "the readings topic's size and a lag of 0 once every reading is committed");

        var alerts = kafka.GetProperty("topics").EnumerateArray().Single(t => t.GetProperty("topic").GetString() == site.Alerts);
        Assert.True(alerts.GetProperty("messages").GetInt64() >= node.Node.Metrics.EpisodesOpened, alerts.ToString());
        var metrics = await client.GetStringAsync("/metrics");
        Assert.Contains($"anomaly_actors_kafka_topic_messages{{site=\"ops\",topic=\"{site.Readings}\"}} {site.Produced}\n", metrics);
        Assert.Contains($"anomaly_actors_kafka_consumer_lag{{site=\"ops\",topic=\"{site.Readings}\"}} 0\n", metrics);
        Promtool.AssertAccepts(metrics);
    }
}
