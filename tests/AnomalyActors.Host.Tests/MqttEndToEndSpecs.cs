using Akka.Actor;
using AnomalyActors.Core.Queries;
using AnomalyActors.Mqtt.Simulation;
using AnomalyActors.Testing;
using MQTTnet.Protocol;
using Xunit;
using Xunit.Abstractions;

namespace AnomalyActors.Host.Tests;

/// <summary>
/// The acceptance scenario of the MQTT path: the demo-sensor generator, 10 devices, 20,000 readings at
/// QoS 1 through a broker into a node with durable intake; every injected anomaly must lie inside
/// an opened episode and at least 99% of episodes must contain one.
/// </summary>
public sealed class MqttEndToEndSpecs(ITestOutputHelper output)
{
    private const int Devices = 10;
    private const int Sites = 2;
    private const int ReadingsPerDevice = 2_000;

    [Fact]
    public async Task Should_catch_every_injected_anomaly_through_the_embedded_broker()
    {
        var port = HostFixture.FreePortNumber();
        await RunScenarioAsync(port, embedded: true);
    }

    [Fact]
    public async Task Should_catch_every_injected_anomaly_through_mosquitto()
    {
        await using var mosquitto = await MosquittoBroker.StartAsync();
        await RunScenarioAsync(mosquitto.Port, embedded: false);
    }

    private async Task RunScenarioAsync(int port, bool embedded)
    {
        var dataDirectory = HostFixture.NewDataDirectory();
        await using var host = await AnomalyHost.StartAsync(HostFixture.Config(dataDirectory, port, embedded));
        var simulator = new DeviceSimulator(new SimulatorOptions(
            "127.0.0.1", port, HostFixture.Username, HostFixture.Password, DeviceKind.Demo, Devices, Sites,
            RatePerDevice: 0, ReadingsPerDevice: ReadingsPerDevice, Qos: MqttQualityOfServiceLevel.AtLeastOnce, Seed: 7));

        var result = await simulator.RunAsync();
        await HostFixture.AwaitAsync(
            () => host.Node.Metrics.ReadingsScored >= Devices * ReadingsPerDevice,
            TimeSpan.FromSeconds(120),
            () => $"{host.Node.Metrics.ReadingsScored} of {Devices * ReadingsPerDevice} readings scored ({host.MqttCounters!})");
        // A reading counts as scored before the episode events it causes are persisted, so the episode
        // metrics lag behind the last readings. A sensor answers a query only after its pending persists
        // have completed: once every sensor has answered, the metrics hold every episode event.
        var streams = Enumerable.Range(0, Devices).Select(i => $"{DeviceSimulator.SiteName(i % Sites)}/{DeviceSimulator.DeviceName(i)}/iotValue");
        await Task.WhenAll(streams.Select(key =>
            host.Node.Sensors.Ask<SensorStateView>(new GetSensorState(key), TimeSpan.FromSeconds(30))));

        // Alerts are written after the episode event is persisted; wait for the file to settle.
        await HostFixture.AwaitAsync(
            () => HostFixture.ReadAlerts(dataDirectory).Count >= host.Node.Metrics.EpisodesOpened + host.Node.Metrics.EpisodesClosed,
            TimeSpan.FromSeconds(30),
            () => "alerts.jsonl to hold every episode event");

        Assert.Equal(Devices * ReadingsPerDevice, result.Published);
        Assert.Equal(0, result.Failed);
        Assert.Equal(Devices * ReadingsPerDevice, host.Node.Metrics.ReadingsScored);
        Assert.Equal(0, host.MqttCounters!.DeadLetters);
        var episodes = Episodes(HostFixture.ReadAlerts(dataDirectory));
        var missed = result.Anomalies.Where(a => !episodes.Any(e => e.Stream == a.StreamKey && e.Open <= a.TimestampMs && a.TimestampMs <= e.Close)).ToArray();
        var withAnomaly = episodes.Count(e => result.Anomalies.Any(a => a.StreamKey == e.Stream && e.Open <= a.TimestampMs && a.TimestampMs <= e.Close));
        output.WriteLine($"{result.Anomalies.Count} injected anomalies, {missed.Length} missed; {episodes.Count} episodes, {withAnomaly} containing an anomaly");

        Assert.True(result.Anomalies.Count > 100, $"only {result.Anomalies.Count} anomalies injected");
        Assert.Empty(missed);
        Assert.True(withAnomaly >= 0.99 * episodes.Count, $"precision {withAnomaly} of {episodes.Count} episodes");
    }

    private static List<(string Stream, long Open, long Close)> Episodes(IReadOnlyList<AlertLine> alerts)
    {
        var closes = alerts.Where(a => a.Type == "close").GroupBy(a => a.AlertId).ToDictionary(g => g.Key, g => g.First().TimestampMs);
        return alerts
            .Where(a => a.Type == "open")
            .DistinctBy(a => a.AlertId)
            .Select(a => (a.Stream, a.TimestampMs, closes.TryGetValue(a.AlertId, out var close) ? close : long.MaxValue))
            .ToList();
    }
}
