using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using AnomalyActors.Core.Events;
using AnomalyActors.Core.Results;
using AnomalyActors.Host;
using AnomalyActors.Kafka.Testing;
using AnomalyActors.Node.Tests;
using AnomalyActors.TestNode;
using Confluent.Kafka;
using Xunit;

namespace AnomalyActors.Kafka.Tests;

/// <summary>
/// In Kafka mode the dashboard's board follows the site's alerts topic, which every member of a
/// cluster writes: it shows the other members' alerts live, and a node that starts shows the
/// site's recent alerts at once.
/// </summary>
public sealed class KafkaDashboardSpecs : IDisposable
{
    private readonly MockKafkaCluster _cluster = new(brokers: 1);

    public void Dispose() => _cluster.Dispose();

    [Fact]
    public async Task Should_show_the_alerts_of_the_whole_site_topic_live_and_at_start()
    {
        var site = new KafkaSite(_cluster, "board").Create();
        var input = new TestInput(sensors: 30, readingsPerSensor: 100, batchSize: 1000, spikeProbability: 0.02);
        await site.ProduceAsync(input.Batches.SelectMany(b => b));
        var config = site.NodeConfig(NodeFixture.NewDataDirectory(), "board-group", snapshotEvery: 20, alarmAfter: 20);
        int alertsOfThisNode;
        await using (var node = await AnomalyHost.StartAsync(config))
        {
            using var client = new HttpClient { BaseAddress = node.Dashboard!.Address };
            await NodeFixture.AwaitAsync(() => node.Node.Metrics.ReadingsScored == site.Produced, TimeSpan.FromSeconds(90), "every reading scored");
            alertsOfThisNode = (int)node.Node.Metrics.EpisodesOpened;
            Assert.True(alertsOfThisNode > 0, "no episode");
            await NodeFixture.AwaitAsync(() => Total(client) == alertsOfThisNode, TimeSpan.FromSeconds(30), "the node's own alerts on the board");

            // Another member of the site writes an alert to the topic: it shows here within 5 s.
            var other = new EpisodeOpened("board/other-member-device/temp", 1, 7, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), 99.5, 0.97);
            using (var producer = new ProducerBuilder<string, byte[]>(new ProducerConfig { BootstrapServers = _cluster.BootstrapServers }).Build())
            {
                await producer.ProduceAsync(site.Alerts, new Message<string, byte[]> { Key = other.SensorId, Value = Encoding.UTF8.GetBytes(ResultRecords.AlertJson(other, "local")) });
            }

            await NodeFixture.AwaitAsync(() => Total(client) == alertsOfThisNode + 1, TimeSpan.FromSeconds(5), "another member's alert on the board");
            var row = (await client.GetFromJsonAsync<JsonElement>("/api/alerts?device=other-member-device")).GetProperty("alerts").EnumerateArray().Single();
            Assert.Equal(other.AlertId, row.GetProperty("alertId").GetString());
        }

        // A node that starts (on another data directory, as a new member would) shows them at once.
        var fresh = site.NodeConfig(NodeFixture.NewDataDirectory(), "board-group-2", snapshotEvery: 20, alarmAfter: 20);
        await using var next = await AnomalyHost.StartAsync(fresh);
        using var nextClient = new HttpClient { BaseAddress = next.Dashboard!.Address };
        await NodeFixture.AwaitAsync(() => Total(nextClient) >= alertsOfThisNode + 1, TimeSpan.FromSeconds(30), "the site's earlier alerts on a new node's board");
    }

    private static int Total(HttpClient client) =>
        client.GetFromJsonAsync<JsonElement>("/api/alerts?limit=1000").Result.GetProperty("alerts").GetArrayLength();
}
