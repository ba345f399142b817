using System.Collections.Concurrent;
using AnomalyActors.Core.Commands;
using AnomalyActors.Ingestion;
using AnomalyActors.Ingestion.Intake;
using AnomalyActors.Mqtt;
using AnomalyActors.Node.Hosting;
using MQTTnet;
using MQTTnet.Protocol;
using Xunit;

namespace AnomalyActors.Host.Tests;

/// <summary>
/// The embedded broker ingesting itself: a device's QoS 1 publish is acknowledged only once its
/// readings are durable, and a device cannot have more than its receive maximum waiting.
/// </summary>
public sealed class BrokerIngestionSpecs : IAsyncLifetime
{
    private readonly Akka.Actor.ActorSystem _system = Akka.Actor.ActorSystem.Create("broker-ingestion", "akka.loglevel = WARNING");
    private readonly GatedIntake _intake = new();
    private BrokerIngestion? _ingestion;
    private EmbeddedBroker? _broker;

    /// <summary>An intake that makes nothing durable until the test opens its gate.</summary>
    private sealed class GatedIntake : IReadingIntake
    {
        private readonly TaskCompletionSource _gate = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public ConcurrentQueue<IngestReadings> Batches { get; } = new();
        public int Readings => Batches.Sum(b => b.Readings.Length);

        public void Open() => _gate.TrySetResult();

        public async Task<(bool Durable, string? Failure)> IngestAsync(IngestReadings batch)
        {
            Batches.Enqueue(batch);
            await _gate.Task;
            return (true, null);
        }
    }

    private async Task<int> StartAsync(int deviceReceiveMaximum)
    {
        var port = HostFixture.FreePortNumber();
        var (config, source) = NodeConfig.Load(HostFixture.Config(HostFixture.NewDataDirectory(), port));
        var ingestion = IngestionSettings.FromConfig(config, source) with { BatchMaxDelay = TimeSpan.FromMilliseconds(10) };
        var broker = MqttSettings.FromConfig(config, "/tmp", source).Broker with
        {
            Users = [new MqttUser("dev-1", "device-secret", MqttRole.Device)],
            DeviceTopicPattern = "sensors/+/{username}/#",
            DeviceReceiveMaximum = deviceReceiveMaximum,
        };
        _ingestion = new BrokerIngestion(_system, ingestion, _intake, null, "sensors/#", 1000, TimeSpan.FromSeconds(5));
        _ingestion.Start();
        _broker = await EmbeddedBroker.StartAsync(broker, ingestion: _ingestion);
        return port;
    }

    private static MqttApplicationMessage Reading(int value) => new MqttApplicationMessageBuilder()
        .WithTopic("sensors/s1/dev-1/temperature")
        .WithPayload(value.ToString(System.Globalization.CultureInfo.InvariantCulture))
        .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
        .Build();

    [Fact]
    public async Task Should_acknowledge_a_publish_only_once_its_readings_are_durable()
    {
        // Arrange
        var port = await StartAsync(deviceReceiveMaximum: 10);
        using var device = await HostFixture.ConnectAsync(port, "dev-1", "device-secret", clientId: "dev-1");

        // Act: the intake has the reading but has not made it durable
        var publishing = device.PublishAsync(Reading(21));
        await HostFixture.AwaitAsync(() => _intake.Readings == 1, TimeSpan.FromSeconds(10), () => "the reading at the intake");

        // Assert: no PUBACK yet; it follows the intake's answer
        Assert.False(publishing.IsCompleted, "acknowledged before durable");
        var batch = Assert.Single(_intake.Batches);
        var delivery = Assert.Single(batch.Deliveries!.Items);
        Assert.Equal(EmbeddedBroker.SessionOf("dev-1"), delivery.Key.Session);
        Assert.False(delivery.Resent);
        _intake.Open();
        var result = await publishing.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(result.IsSuccess);
        await HostFixture.AwaitAsync(() => _ingestion!.Counters.Acknowledged == 1, TimeSpan.FromSeconds(10), () => _ingestion!.Counters.ToString());
    }

    [Fact]
    public async Task Should_not_read_more_than_the_receive_maximum_from_a_device_until_some_are_durable()
    {
        // Arrange: MQTTnet's client does not keep to the broker's receive maximum, so the broker must
        var port = await StartAsync(deviceReceiveMaximum: 5);
        using var device = await HostFixture.ConnectAsync(port, "dev-1", "device-secret", clientId: "dev-1");

        // Act
        var publishing = Enumerable.Range(0, 20).Select(i => device.PublishAsync(Reading(i))).ToArray();
        await HostFixture.AwaitAsync(() => _broker!.HeldPublishes > 0 && _intake.Readings > 0, TimeSpan.FromSeconds(10),
            () => $"{_intake.Readings} readings at the intake, {_broker!.HeldPublishes} held");

        // Assert: at most five taken (the first batch at the intake, the others behind it in the
        // ingest stream), the rest not taken from the device's connection
        Assert.InRange(_intake.Readings, 1, 5);
        Assert.DoesNotContain(publishing, p => p.IsCompleted);
        _intake.Open();
        var results = await Task.WhenAll(publishing).WaitAsync(TimeSpan.FromSeconds(20));
        Assert.All(results, r => Assert.True(r.IsSuccess));
        Assert.Equal(20, _intake.Readings);
        Assert.Equal(Enumerable.Range(0, 20).Select(i => (double)i), _intake.Batches.SelectMany(b => b.Readings).Select(r => r.Value));
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        _intake.Open();
        if (_ingestion is not null)
        {
            await _ingestion.DisposeAsync();
        }

        if (_broker is not null)
        {
            await _broker.DisposeAsync();
        }

        await _system.Terminate();
    }
}
