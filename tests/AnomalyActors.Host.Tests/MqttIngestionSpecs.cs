using System.Text;
using System.Text.Json;
using AnomalyActors.Core.DeadLetters;
using AnomalyActors.Core.Commands;
using AnomalyActors.Ingestion.Intake;
using AnomalyActors.Ingestion.Payload;
using AnomalyActors.Mqtt;
using AnomalyActors.Testing;
using MQTTnet;
using MQTTnet.Protocol;
using Xunit;

namespace AnomalyActors.Host.Tests;

public sealed class MqttIngestionSpecs
{
    /// <summary>Every way a message can be bad, each with a payload and the reason it must be filed under.</summary>
    private static readonly (string Topic, Func<int, string> Payload, DeadLetterReason Reason)[] BadKinds =
    [
        ("sensors/s1/d{0}/demo", i => "{\"iotValue\":" + i, DeadLetterReason.InvalidJson),
        ("sensors/s1/d{0}/demo", _ => "{\"iotName\":\"no value\"}", DeadLetterReason.MissingField),
        ("sensors/s1/d{0}/demo", _ => "{\"iotValue\":\"hot\"}", DeadLetterReason.NotNumeric),
        ("sensors/s1/d{0}/demo", _ => "{\"iotValue\":\"NaN\"}", DeadLetterReason.NotFinite),
        ("sensors/s1/d{0}/demo", _ => "{\"iotValue\":1e999}", DeadLetterReason.NotFinite),
        ("sensors/s1/d{0}/demo", _ => "{\"iotValue\":15,\"pad\":\"" + new string('x', 2000) + "\"}", DeadLetterReason.PayloadTooLarge),
        ("sensors/s1/d{0}/demo/extra", _ => "15", DeadLetterReason.UnknownFormat),
        ("sensors/s1/d{0}/fan", _ => "{\"TIME\":\"2019-09-09T10:00:00\",\"FREQ\":40,\"RPM\":1}", DeadLetterReason.MissingField),
        ("sensors/s1/d{0}/text", _ => "1;x;3", DeadLetterReason.NotNumeric),
    ];

    [Fact]
    public async Task Should_score_every_good_message_and_dead_letter_every_bad_one_in_a_mixed_stream()
    {
        var port = HostFixture.FreePortNumber();
        var dataDirectory = HostFixture.NewDataDirectory();
        await using var host = await AnomalyHost.StartAsync(HostFixture.Config(dataDirectory, port, extra: "anomaly-actors.ingestion.max-payload-bytes = 1024"));
        using var publisher = await HostFixture.ConnectAsync(port, HostFixture.Username, HostFixture.Password);
        var random = new Random(11);
        var expectedBad = new Dictionary<DeadLetterReason, int>();
        var good = 0;
        const int Messages = 12_000;

        var inFlight = new List<Task<MqttClientPublishResult>>();
        for (var i = 0; i < Messages; i++)
        {
            string topic, payload;
            if (i % 3 == 2)
            {
                var kind = BadKinds[i / 3 % BadKinds.Length];
                topic = string.Format(System.Globalization.CultureInfo.InvariantCulture, kind.Topic, i % 20);
                payload = kind.Payload(i);
                expectedBad[kind.Reason] = expectedBad.GetValueOrDefault(kind.Reason) + 1;
            }
            else
            {
                topic = $"sensors/s1/d{i % 20}/demo";
                payload = $"{{\"iotName\":\"d\",\"iotValue\":{random.Next(10, 21)}}}";
                good++;
            }

            inFlight.Add(publisher.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload(payload)
                .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build()));
            if (inFlight.Count == 200)
            {
                await Task.WhenAll(inFlight);
                inFlight.Clear();
            }
        }

        await Task.WhenAll(inFlight);
        var counters = host.MqttCounters!;
        await HostFixture.AwaitAsync(
            () => host.Node.Metrics.ReadingsScored >= good && counters.Acknowledged >= Messages,
            TimeSpan.FromSeconds(120),
            () => $"{host.Node.Metrics.ReadingsScored} of {good} scored; {counters}");

        Assert.Equal(good, host.Node.Metrics.ReadingsScored);
        Assert.Equal(good, counters.Readings);
        Assert.Equal(Messages, counters.Messages);
        Assert.Equal(expectedBad.OrderBy(kv => kv.Key).Select(kv => (kv.Key, (long)kv.Value)), counters.DeadLettersByReason().OrderBy(kv => kv.Key).Select(kv => (kv.Key, kv.Value)));
        var lines = File.ReadAllLines(Path.Combine(dataDirectory, "dead-letters.jsonl")).Select(l => JsonDocument.Parse(l).RootElement).ToArray();
        Assert.Equal(Messages / 3, lines.Length);
        Assert.Equal(expectedBad.OrderBy(kv => kv.Key).Select(kv => (kv.Key.ToString(), kv.Value)),
            lines.GroupBy(l => l.GetProperty("reason").GetString()!).OrderBy(g => Enum.Parse<DeadLetterReason>(g.Key)).Select(g => (g.Key, g.Count())));
        Assert.All(lines, l => Assert.False(string.IsNullOrEmpty(l.GetProperty("payload").GetString())));
    }

    /// <summary>An intake that stores nothing, as a node whose journal is down would.</summary>
    private sealed class RefusingIntake : IReadingIntake
    {
        public int Attempts;

        public Task<(bool Durable, string? Failure)> IngestAsync(IngestReadings batch)
        {
            Interlocked.Increment(ref Attempts);
            return Task.FromResult((false, (string?)"journal down"));
        }
    }

    private sealed class CountingIntake : IReadingIntake
    {
        public int Readings;
        public System.Collections.Concurrent.ConcurrentBag<double> Values { get; } = [];

        public async Task<(bool Durable, string? Failure)> IngestAsync(IngestReadings batch)
        {
            // Slow enough that a stop finds batches in flight.
            await Task.Delay(5);
            foreach (var reading in batch.Readings)
            {
                Values.Add(reading.Value);
            }

            Interlocked.Add(ref Readings, batch.Readings.Length);
            return (true, null);
        }
    }

    [Fact]
    public async Task Should_finish_and_acknowledge_taken_batches_on_a_graceful_stop_so_nothing_is_ingested_twice()
    {
        await using var mosquitto = await MosquittoBroker.StartAsync();
        await GracefulStopScenarioAsync(mosquitto.Port, string.Empty);
    }

    [Fact]
    public async Task Should_finish_and_acknowledge_taken_batches_on_a_graceful_stop_through_the_embedded_broker()
    {
        var port = HostFixture.FreePortNumber();
        var (config, source) = Node.Hosting.NodeConfig.Load(HostFixture.Config(HostFixture.NewDataDirectory(), port, embedded: false, extra: "anomaly-actors.mqtt.broker.allow-anonymous = on"));
        await using var broker = await EmbeddedBroker.StartAsync(MqttSettings.FromConfig(config, "/tmp", source).Broker);
        await GracefulStopScenarioAsync(port, "anomaly-actors.mqtt.broker.allow-anonymous = on");
    }

    /// <summary>Stops an ingestion while messages arrive and batches are in flight, restarts it on the same session, and expects every message exactly once.</summary>
    private static async Task GracefulStopScenarioAsync(int port, string extraConfig)
    {
        var (config, source) = Node.Hosting.NodeConfig.Load(HostFixture.Config(HostFixture.NewDataDirectory(), port, embedded: false, extra: extraConfig));
        var mqtt = MqttSettings.FromConfig(config, "/tmp", source).Subscriber with { ClientId = $"drain-{Guid.NewGuid():N}", Username = null, Password = null };
        var ingestion = Ingestion.IngestionSettings.FromConfig(config, source) with
        {
            BatchMaxMessages = 10,
        };
        using var system = Akka.Actor.ActorSystem.Create("drain", "akka.loglevel = WARNING");
        var intake = new CountingIntake();
        var first = new MqttIngestion(system, mqtt, ingestion, intake, null);
        await first.StartAsync(TimeSpan.FromSeconds(10));
        using var publisher = await HostFixture.ConnectAsync(port, null, null);
        const int Messages = 2_000;
        var publishing = Task.Run(async () =>
        {
            for (var i = 0; i < Messages; i++)
            {
                await publisher.PublishAsync(new MqttApplicationMessageBuilder().WithTopic("sensors/s/d/demo").WithPayload($"{{\"iotValue\":{i}}}")
                    .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
            }
        });

        // Stop while messages are still arriving and batches are in flight.
        await HostFixture.AwaitAsync(() => intake.Readings >= 200, TimeSpan.FromSeconds(30), () => "first readings");
        await first.DisposeAsync();
        var firstReadings = intake.Readings;
        var firstAcknowledged = first.Counters.Acknowledged;
        var firstSubscriberAcks = first.Subscriber.Acknowledged;
        await publishing;
        var second = new MqttIngestion(system, mqtt, ingestion, intake, null);
        await second.StartAsync(TimeSpan.FromSeconds(10));
        // The broker delivers the held-back messages before a newer one, so once this marker is in,
        // every re-delivery is too.
        await publisher.PublishAsync(new MqttApplicationMessageBuilder().WithTopic("sensors/s/d/demo").WithPayload("{\"iotValue\":-1}")
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
        await HostFixture.AwaitAsync(() => intake.Values.Contains(-1), TimeSpan.FromSeconds(30), () => $"marker after {intake.Readings} readings");

        Assert.True(Messages + 1 == intake.Readings, $"first run: {firstReadings} readings, {firstAcknowledged} acknowledged by the stage, {firstSubscriberAcks} PUBACKs sent; total {intake.Readings}");
        Assert.Equal(Enumerable.Range(-1, Messages + 1).Select(i => (double)i), intake.Values.Order());
        await second.DisposeAsync();
    }

    [Fact]
    public async Task Should_leave_messages_unacknowledged_until_durable_so_the_broker_delivers_them_again()
    {
        await using var mosquitto = await MosquittoBroker.StartAsync();
        var settings = HostFixture.Config(HostFixture.NewDataDirectory(), mosquitto.Port, embedded: false);
        var (config, source) = Node.Hosting.NodeConfig.Load(settings);
        var mqtt = MqttSettings.FromConfig(config, "/tmp", source).Subscriber with
        {
            ClientId = $"redelivery-{Guid.NewGuid():N}",
            Username = null,
            Password = null,
            DrainTimeout = TimeSpan.FromMilliseconds(500),
        };
        var ingestion = Ingestion.IngestionSettings.FromConfig(config, source) with
        {
            RetryBackoff = TimeSpan.FromMilliseconds(20),
        };
        using var system = Akka.Actor.ActorSystem.Create("redelivery", "akka.loglevel = WARNING");
        var refusing = new RefusingIntake();
        var first = new MqttIngestion(system, mqtt, ingestion, refusing, null);
        await first.StartAsync(TimeSpan.FromSeconds(10));
        using var publisher = await HostFixture.ConnectAsync(mosquitto.Port, null, null);
        for (var i = 0; i < 50; i++)
        {
            await publisher.PublishAsync(new MqttApplicationMessageBuilder().WithTopic($"sensors/s/d/demo").WithPayload($"{{\"iotValue\":{i}}}")
                .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
        }

        await HostFixture.AwaitAsync(() => first.Subscriber.Received >= 50 && refusing.Attempts >= 3, TimeSpan.FromSeconds(30), () => "deliveries to the refusing intake");
        await first.DisposeAsync();

        // The same session (client id) again, now with an intake that stores.
        var counting = new CountingIntake();
        var second = new MqttIngestion(system, mqtt, ingestion, counting, null);
        await second.StartAsync(TimeSpan.FromSeconds(10));
        await HostFixture.AwaitAsync(() => counting.Readings >= 50, TimeSpan.FromSeconds(30), () => $"{counting.Readings} of 50 re-delivered readings stored");
        await HostFixture.AwaitAsync(() => second.Counters.Acknowledged >= 50, TimeSpan.FromSeconds(30), () => "acknowledgements");

        Assert.Equal(0, first.Subscriber.Acknowledged);
        Assert.Equal(50, counting.Readings);
        await second.DisposeAsync();
    }
}
