using System.Collections.Concurrent;
using System.Text.Json;
using AnomalyActors.Mqtt.Simulation;
using AnomalyActors.Testing;
using MQTTnet;
using MQTTnet.Protocol;
using Xunit;

namespace AnomalyActors.Host.Tests;

public sealed class DeviceSimulatorSpecs
{
    [Fact]
    public async Task Should_reconnect_after_the_broker_restarts_and_send_again_what_was_not_acknowledged()
    {
        // Arrange: mosquitto keeping sessions across a graceful restart, and a subscriber that keeps its own
        await using var mosquitto = await MosquittoBroker.StartAsync(persistence: true);
        var received = new ConcurrentDictionary<string, int>();
        using var subscriber = await ConnectSubscriberAsync(mosquitto.Port, received);
        var simulator = new DeviceSimulator(
            new SimulatorOptions("127.0.0.1", mosquitto.Port, null, null, Devices: 5, RatePerDevice: 100, ReadingsPerDevice: 300),
            _ => { });

        // Act: the broker goes away for two seconds a second into the run
        var run = simulator.RunAsync();
        await Task.Delay(TimeSpan.FromSeconds(1));
        await mosquitto.RestartAsync(TimeSpan.FromSeconds(2));
        var result = await run.WaitAsync(TimeSpan.FromSeconds(60));
        await HostFixture.AwaitAsync(() => received.Count == 1500, TimeSpan.FromSeconds(30),
            () => $"{received.Count} of 1,500 distinct readings received; simulator {result}; subscriber connected {subscriber.IsConnected}; broker: {mosquitto.Output}");

        // Assert: nothing given up, everything delivered
        Assert.Equal(0, result.Failed);
        Assert.Equal(1500, result.Published);
        Assert.True(result.Reconnects >= 1, "the simulator never reconnected");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Should_send_a_period_s_readings_in_one_burst_or_spread_over_the_period(bool spread)
    {
        // Arrange: 20 devices at 2 readings/s (periods of 500 ms), 6 each, their readings' send times collected
        await using var mosquitto = await MosquittoBroker.StartAsync();
        var received = new ConcurrentDictionary<string, int>();
        using var subscriber = await ConnectSubscriberAsync(mosquitto.Port, received);
        var simulator = new DeviceSimulator(
            new SimulatorOptions("127.0.0.1", mosquitto.Port, null, null, Devices: 20, RatePerDevice: 2, ReadingsPerDevice: 6, PerDeviceConnections: true, Spread: spread),
            _ => { });

        // Act
        var result = await simulator.RunAsync().WaitAsync(TimeSpan.FromSeconds(60));
        await HostFixture.AwaitAsync(() => received.Count == 120, TimeSpan.FromSeconds(30), () => $"{received.Count} of 120 readings received");

        // Assert: the typical gap between one device's reading and the next one's in the same period
        // (the median over the periods after the first, so that a stall of the machine moves it little)
        var byDevice = received.Keys
            .Select(k => (Device: k.Split(' ')[0], Time: long.Parse(k.Split(' ')[1])))
            .GroupBy(r => r.Device)
            .Select(g => g.Select(r => r.Time).Order().ToArray())
            .ToArray();
        var gaps = Enumerable.Range(1, 5)
            .SelectMany(round =>
            {
                var times = byDevice.Select(t => t[round]).Order().ToArray();
                return times.Skip(1).Select((t, i) => t - times[i]);
            })
            .Order()
            .ToArray();
        var medianGap = gaps[gaps.Length / 2];
        Assert.Equal(0, result.Failed);
        Assert.Equal(20, byDevice.Length);
        if (spread)
        {
            // A period (500 ms) over 20 devices: 25 ms apart (catching up after a stall sends at once)
            Assert.InRange(medianGap, 10, 40);
        }
        else
        {
            Assert.InRange(medianGap, 0, 5);
        }
    }

    private static async Task<IMqttClient> ConnectSubscriberAsync(int port, ConcurrentDictionary<string, int> received)
    {
        var client = new MqttClientFactory().CreateMqttClient();
        var options = new MqttClientOptionsBuilder()
            .WithTcpServer("127.0.0.1", port)
            .WithClientId("collector-" + Guid.NewGuid().ToString("N"))
            .WithProtocolVersion(MQTTnet.Formatter.MqttProtocolVersion.V500)
            .WithCleanStart(false)
            .WithSessionExpiryInterval(600)
            .Build();
        client.ApplicationMessageReceivedAsync += e =>
        {
            var json = JsonDocument.Parse(e.ApplicationMessage.ConvertPayloadToString()).RootElement;
            received.AddOrUpdate($"{e.ApplicationMessage.Topic} {json.GetProperty("ts").GetInt64()}", 1, (_, n) => n + 1);
            return Task.CompletedTask;
        };
        // Back to the same session as soon as the broker is; it kept what arrived meanwhile.
        _ = Task.Run(async () =>
        {
            var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(2);
            while (DateTime.UtcNow < deadline)
            {
                await Task.Delay(100);
                if (!client.IsConnected)
                {
                    try
                    {
                        await client.ConnectAsync(options);
                    }
                    catch (Exception e) when (e is not OutOfMemoryException)
                    {
                        // Not back yet.
                    }
                }
            }
        });
        await client.ConnectAsync(options);
        await client.SubscribeAsync("sensors/#", MqttQualityOfServiceLevel.AtLeastOnce);
        return client;
    }
}
