using System.Globalization;
using System.Text;
using AnomalyActors.Host;
using AnomalyActors.Kafka.Testing;
using AnomalyActors.Node.Tests;
using AnomalyActors.Testing;
using MQTTnet;
using MQTTnet.Protocol;
using Xunit;

namespace AnomalyActors.Kafka.Tests;

/// <summary>The MQTT-to-Kafka bridge: readings published over MQTT reach the site's readings topic, and from there the site's consumers.</summary>
public sealed class KafkaBridgeSpecs : IDisposable
{
    private readonly MockKafkaCluster _cluster = new(brokers: 1);

    public void Dispose() => _cluster.Dispose();

    [Fact]
    public async Task Should_forward_mqtt_readings_to_the_readings_topic_and_score_them_from_kafka()
    {
        // Arrange: one node with its embedded broker, bridging to Kafka and consuming from it
        var site = new KafkaSite(_cluster, "bridge", partitions: 2).Create();
        var port = FreePort.Next();
        var dataDirectory = NodeFixture.NewDataDirectory();
        var password = "test-" + Guid.NewGuid().ToString("N");
        var config = Akka.Configuration.ConfigurationFactory.ParseString($$"""
            anomaly-actors.kafka.bridge-mqtt = on
            anomaly-actors.mqtt.enabled = on
            anomaly-actors.mqtt.subscriber.password = "{{password}}"
            anomaly-actors.mqtt.broker.port = {{port}}
            anomaly-actors.mqtt.subscriber.port = {{port}}
            anomaly-actors.mqtt.subscriber.client-id = "ingest-{{Guid.NewGuid():N}}"
            """).WithFallback(site.NodeConfig(dataDirectory, "bridge-group"));
        await using var host = await AnomalyHost.StartAsync(config);
        var options = new MqttClientOptionsBuilder()
            .WithTcpServer("127.0.0.1", port)
            .WithClientId("publisher-" + Guid.NewGuid().ToString("N"))
            .WithCredentials("anomaly-actors", password)
            .Build();
        using var client = new MqttClientFactory().CreateMqttClient();
        await client.ConnectAsync(options);

        // Act
        for (var i = 0; i < 200; i++)
        {
            var value = (20 + (i % 7) * 0.25).ToString(CultureInfo.InvariantCulture);
            await client.PublishAsync(new MqttApplicationMessageBuilder()
                .WithTopic($"sensors/dc1/boiler-{i % 10}/temperature")
                .WithPayload(Encoding.UTF8.GetBytes(value))
                .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
                .Build());
        }

        await NodeFixture.AwaitAsync(() => host.Node.Metrics.ReadingsScored == 200, TimeSpan.FromSeconds(60), "the bridged readings scored");
        await client.DisconnectAsync();

        // Assert: every reading went through Kafka, none through the node's own intake journal
        var messages = site.ReadAll(site.Readings, 2);
        Assert.Equal(200, messages.Count);
        Assert.Equal(
            Enumerable.Range(0, 10).Select(d => $"sensors/dc1/boiler-{d}/temperature").Order(),
            messages.Select(m => m.Message.Key).Distinct().Order());
        Assert.Equal(0, host.Node.Metrics.ChunksStored);
        Assert.Equal(200, host.KafkaMetrics.ReadingsDelivered);
    }
}
