using Akka.Actor;
using Akka.Configuration;
using AnomalyActors.Core.Queries;
using AnomalyActors.Mqtt.Simulation;
using AnomalyActors.Testing;
using MQTTnet.Protocol;
using Xunit;

namespace AnomalyActors.Host.Tests;

/// <summary>A whole node notifying a webhook: every alert change once, across a failing receiver and a restart.</summary>
public sealed class NodeNotificationSpecs
{
    private const int Devices = 3;
    private const int ReadingsPerDevice = 2_000;

    [Fact]
    public async Task Should_notify_every_alert_change_of_the_node_exactly_once()
    {
        // Arrange: the receiver fails its first two requests
        await using var sink = new WebhookSink(System.Net.HttpStatusCode.ServiceUnavailable, System.Net.HttpStatusCode.InternalServerError);
        var dataDirectory = HostFixture.NewDataDirectory();
        Config NodeConfig() => ConfigurationFactory.ParseString($$"""
            anomaly-actors.notifications {
              channels { ops { type = webhook, url = "{{sink.Url}}" } }
              routes = [ { channels = [ops], group-wait = 200ms } ]
              retry.min-backoff = 100ms
            }
            """).WithFallback(HostFixture.Config(dataDirectory, HostFixture.FreePortNumber()));
        var config = NodeConfig();
        var port = config.GetInt("anomaly-actors.mqtt.broker.port");
        await using (var host = await AnomalyHost.StartAsync(config))
        {
            // Act
            var simulator = new DeviceSimulator(new SimulatorOptions(
                "127.0.0.1", port, HostFixture.Username, HostFixture.Password, DeviceKind.Demo, Devices, 1,
                RatePerDevice: 0, ReadingsPerDevice: ReadingsPerDevice, Qos: MqttQualityOfServiceLevel.AtLeastOnce, Seed: 5));
            await simulator.RunAsync();
            await HostFixture.AwaitAsync(() => host.Node.Metrics.ReadingsScored >= Devices * ReadingsPerDevice, TimeSpan.FromSeconds(120), () => "scoring");
            await Task.WhenAll(Enumerable.Range(0, Devices).Select(i =>
                host.Node.Sensors.Ask<SensorStateView>(new GetSensorState($"{DeviceSimulator.SiteName(0)}/{DeviceSimulator.DeviceName(i)}/iotValue"), TimeSpan.FromSeconds(30))));
            var changes = host.Node.Metrics.EpisodesOpened + host.Node.Metrics.EpisodesClosed;
            Assert.True(changes > 0, "no episode");
            await HostFixture.AwaitAsync(() => host.Notifier!.Counters.Of("delivered", "ops") >= changes, TimeSpan.FromSeconds(60),
                () => $"{host.Notifier!.Counters.Of("delivered", "ops")} of {changes} changes delivered");

            // Assert: each change (alert id and status) in exactly one delivered request
            var delivered = Delivered(sink);
            var alerts = HostFixture.ReadAlerts(dataDirectory).Select(a => (a.AlertId, a.Type == "open" ? "firing" : "resolved")).ToList();
            Assert.Equal(alerts.Count, delivered.Count);
            Assert.Equal(alerts.ToHashSet(), delivered.ToHashSet());
            Assert.Equal(2, host.Notifier!.Counters.Of("failed", "ops"));
        }

        // A restart on the same data directory sends nothing again.
        var before = sink.Requests.Count;
        await using (var again = await AnomalyHost.StartAsync(NodeConfig()))
        {
            await Task.Delay(1000);
        }

        Assert.Equal(before, sink.Requests.Count);
    }

    private static List<(string AlertId, string Status)> Delivered(WebhookSink sink) =>
        [.. sink.Requests.Where(r => r.Answer == System.Net.HttpStatusCode.OK)
            .SelectMany(r => r.Body.GetProperty("alerts").EnumerateArray())
            .Select(a => (a.GetProperty("labels").GetProperty("alert_id").GetString()!, a.GetProperty("status").GetString()!))];
}
