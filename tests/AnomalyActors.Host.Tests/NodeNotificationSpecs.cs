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
        var port = HostFixture.FreePortNumber();
        Config NodeConfig() => ConfigurationFactory.ParseString($$"""
            anomaly-actors.notifications {
              channels { ops { type = webhook, url = "{{sink.Url}}" } }
              routes = [ { channels = [ops], group-wait = 200ms } ]
              retry.min-backoff = 100ms
            }
            """).WithFallback(HostFixture.Config(dataDirectory, port));
        var config = NodeConfig();
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

        // A restart on the same data directory sends nothing again, and a stop sends what waits in its
        // group (here for a group wait far longer than the test) before the node ends.
        var before = sink.Requests.Count;
        var waitLong = ConfigurationFactory.ParseString("anomaly-actors.notifications.routes = [ { channels = [ops], group-wait = 10m } ]").WithFallback(NodeConfig());
        long changesAfter;
        await using (var again = await AnomalyHost.StartAsync(waitLong))
        {
            await Task.Delay(1000);
            Assert.Equal(before, sink.Requests.Count);
            var simulator = new DeviceSimulator(new SimulatorOptions(
                "127.0.0.1", port, HostFixture.Username, HostFixture.Password, DeviceKind.Demo, Devices, 1,
                RatePerDevice: 0, ReadingsPerDevice: 300, Qos: MqttQualityOfServiceLevel.AtLeastOnce, Seed: 9));
            await simulator.RunAsync();
            await HostFixture.AwaitAsync(() => again.Node.Metrics.ReadingsScored >= Devices * 300, TimeSpan.FromSeconds(60), () => "scoring after the restart");
            changesAfter = again.Node.Metrics.EpisodesOpened + again.Node.Metrics.EpisodesClosed;
            await again.StopAsync();
        }

        Assert.True(changesAfter > 0, "no episode after the restart");
        var all = HostFixture.ReadAlerts(dataDirectory).Select(a => (a.AlertId, a.Type == "open" ? "firing" : "resolved")).ToList();
        Assert.Equal(all.Count, Delivered(sink).Count);
        Assert.Equal(all.ToHashSet(), Delivered(sink).ToHashSet());
    }

    private static List<(string AlertId, string Status)> Delivered(WebhookSink sink) =>
        [.. sink.Requests.Where(r => r.Answer == System.Net.HttpStatusCode.OK)
            .SelectMany(r => r.Body.GetProperty("alerts").EnumerateArray())
            .Select(a => (a.GetProperty("labels").GetProperty("alert_id").GetString()!, a.GetProperty("status").GetString()!))];
}
