using System.Text;
using System.Text.Json;
using Akka.Cluster;
using AnomalyActors.Core.Protocol;
using AnomalyActors.Kafka.Testing;
using AnomalyActors.Host;
using AnomalyActors.Node.Tests;
using AnomalyActors.TestNode;
using Confluent.Kafka;
using AnomalyActors.Testing;
using Xunit;

namespace AnomalyActors.Kafka.Tests;

/// <summary>
/// The node in Kafka mode against the mock cluster over TCP: everything produced is scored, results
/// land on the site's topics, and crashes, a second node joining and a broker outage change nothing
/// in the final detector state compared with an uninterrupted run.
/// </summary>
public sealed class KafkaIngestionSpecs : IDisposable
{
    private readonly MockKafkaCluster _cluster = new(brokers: 3);

    public void Dispose() => _cluster.Dispose();

    // What the shared parser refuses, keyed like everything else by the device's MQTT topic.
    private static readonly (string Key, byte[] Payload, string Reason)[] Malformed =
    [
        ("sensors/s/d/m", Encoding.UTF8.GetBytes("high"), "NotNumeric"),
        ("sensors/s/d/m", Encoding.UTF8.GetBytes("NaN"), "NotFinite"),
        ("nowhere/else", Encoding.UTF8.GetBytes("1"), "UnknownFormat"),
        ("sensors/s/d/demo", Encoding.UTF8.GetBytes("{\"iotValue\": "), "InvalidJson"),
        ("sensors/s/d/demo", Encoding.UTF8.GetBytes("{\"other\": 1}"), "MissingField"),
        ("sensors/s/d/m", Encoding.UTF8.GetBytes(new string('7', 70_000)), "PayloadTooLarge"),
    ];

    [Fact]
    public async Task Should_score_every_reading_of_a_thousand_sensors_and_publish_enriched_alerts_and_dead_letters()
    {
        var site = new KafkaSite(_cluster, "big").Create();
        var input = new TestInput(sensors: 1000, readingsPerSensor: 110, batchSize: 10_000, spikeProbability: 0.003);
        await site.ProduceAsync(input.Batches.SelectMany(b => b), Malformed.Select(m => (m.Key, m.Payload)));
        Assert.Equal(110_000, site.Produced);

        var dataDirectory = NodeFixture.NewDataDirectory();
        var node = await AnomalyHost.StartAsync(site.NodeConfig(dataDirectory, "big-group", snapshotEvery: 50, alarmAfter: 20));
        var outcomes = await site.OutcomesAsync(node.Node);
        await NodeFixture.AwaitAsync(() => node.KafkaMetrics.DeadLettersWritten == Malformed.Length, TimeSpan.FromSeconds(30), "dead letters written");
        var opened = node.Node.Metrics.EpisodesOpened;
        var closed = node.Node.Metrics.EpisodesClosed;
        await NodeFixture.AwaitAsync(() => node.KafkaMetrics.AlertsProduced >= opened + closed, TimeSpan.FromSeconds(30), "alerts produced");
        await NodeFixture.AwaitAsync(() => node.KafkaMetrics.EnrichedProduced >= 110_000, TimeSpan.FromSeconds(60), "enriched readings produced");
        await node.StopAsync();

        Assert.Equal(110_000, outcomes.Sum(o => o.ReadingsScored));
        Assert.True(opened > 50, $"The injected spikes must open episodes ({opened}).");

        // Alerts: one message per episode transition, keyed by the stable alert id, with headers.
        var alerts = site.ReadAll(site.Alerts, 1);
        var distinctAlerts = alerts.Select(a => (a.Message.Key, Type: Header(a, "type"))).Distinct().ToList();
        Assert.Equal(opened + closed, distinctAlerts.Count);
        Assert.All(alerts, a =>
        {
            var id = StreamId.Parse(a.Message.Key[..a.Message.Key.IndexOf('#')]);
            Assert.Equal("big", Header(a, "origin"));
            Assert.Equal("big", JsonDocument.Parse(a.Message.Value).RootElement.GetProperty("origin").GetString());
            Assert.Equal(id.Site, Header(a, "site"));
            Assert.Equal(id.Device, Header(a, "device"));
            Assert.Equal(id.Metric, Header(a, "metric"));
            Assert.Contains(Header(a, "severity"), new[] { "minor", "major", "critical", "cleared" });
        });
        // Each episode a sensor opened is one open alert and, once closed, one close alert. The
        // sensors' journal holds none of them: in Kafka mode the alerts topic is the episode record.
        Assert.Equal(outcomes.Sum(o => o.EpisodeTransitions), distinctAlerts.Count);
        Assert.All(outcomes, o => Assert.Empty(o.Episodes));

        // Enriched: every reading exactly once by (stream, offset), with its band and episode.
        var enriched = site.ReadAll(site.Enriched, KafkaSite.EnrichedPartitions);
        var byOffset = enriched.Select(e => (e.Message.Key, JsonDocument.Parse(e.Message.Value).RootElement)).ToList();
        Assert.Equal(110_000, byOffset.Select(e => (e.Key, e.RootElement.GetProperty("offset").GetInt64())).Distinct().Count());
        Assert.Contains(byOffset, e => e.RootElement.GetProperty("anomaly").GetBoolean() && e.RootElement.GetProperty("episodeId").ValueKind == JsonValueKind.String);
        Assert.All(byOffset.Take(100), e => Assert.True(e.RootElement.TryGetProperty("prediction", out _) && e.RootElement.TryGetProperty("high", out _)));
        // Every record names the site that produced it, in its headers (and in the JSON of results).
        Assert.All(byOffset, e => Assert.Equal("big", e.RootElement.GetProperty("origin").GetString()));
        Assert.All(enriched, e => Assert.Equal("big", Header(e, "origin")));

        // Dead letters: every malformed message, raw, with its reason; nothing else.
        var deadLetters = site.ReadAll(site.DeadLetters, 1);
        Assert.Equal(
            Malformed.Select(m => (Convert.ToHexString(m.Payload), m.Reason)).Order(),
            deadLetters.Select(d => (Convert.ToHexString(d.Message.Value), Header(d, "reason"))).Order());
        Assert.All(deadLetters, d => Assert.Equal("big", Header(d, "origin")));
    }

    [Fact]
    public async Task Should_journal_episode_events_too_when_configured()
    {
        // Arrange
        var site = new KafkaSite(_cluster, "journal").Create();
        var input = new TestInput(sensors: 20, readingsPerSensor: 200, batchSize: 1000, spikeProbability: 0.01);
        await site.ProduceAsync(input.Batches.SelectMany(b => b));

        // Act
        var node = await AnomalyHost.StartAsync(site.NodeConfig(NodeFixture.NewDataDirectory(), "journal-group", alarmAfter: 20, journalEpisodes: true));
        var outcomes = await site.OutcomesAsync(node.Node);
        await node.StopAsync();

        // Assert: every transition is in the sensor's journal, as in the intake mode.
        Assert.True(outcomes.Sum(o => o.EpisodesOpened) > 5, $"The spikes must open episodes ({outcomes.Sum(o => o.EpisodesOpened)}).");
        Assert.All(outcomes, o => Assert.Equal(o.EpisodeTransitions, o.Episodes.Length));
    }

    [Fact]
    public async Task Should_recover_exactly_after_the_node_is_killed_mid_stream()
    {
        var site = new KafkaSite(_cluster, "kill").Create();
        var input = new TestInput(sensors: 100, readingsPerSensor: 400, batchSize: 1000);
        var all = input.Batches.SelectMany(b => b).ToArray();
        await site.ProduceAsync(all.Take(24_000));

        var dataDirectory = NodeFixture.NewDataDirectory();
        var config = site.NodeConfig(dataDirectory, "kill-group", snapshotEvery: 40);
        var doomed = await AnomalyHost.StartAsync(NodeFixture.Crashable(config), systemName: "anomaly-actors");
        await NodeFixture.AwaitAsync(
            () => doomed.KafkaMetrics.MessagesConsumed >= 16_000 && doomed.KafkaMetrics.CommitsDone > 0,
            TimeSpan.FromSeconds(60),
            "part of the topic consumed and some of it committed");

        // The kill lands while the rest of the readings stream in.
        var producing = site.ProduceAsync(all.Skip(24_000));
        await NodeFixture.AwaitAsync(() => doomed.KafkaMetrics.MessagesConsumed >= 28_000, TimeSpan.FromSeconds(60), "more readings arriving");
        await doomed.Node.System.Terminate();
        await producing;
        var restarted = await AnomalyHost.StartAsync(config);
        var actual = await site.OutcomesAsync(restarted.Node);
        var consumedAfterRestart = restarted.KafkaMetrics.MessagesConsumed;
        await restarted.StopAsync();

        var (expected, expectedAlerts) = await UninterruptedAsync(site, "kill-reference");
        NodeFixture.AssertSameOutcomes(expected, actual);
        AssertAlerts(site, expectedAlerts);
        // The restart re-reads from the committed offset: what the dead node never read and what its
        // sensors had not snapshotted yet, never the whole topic again.
        Assert.InRange(consumedAfterRestart, 12_001, 39_999);
    }

    [Fact]
    public async Task Should_rebalance_to_a_node_joining_mid_stream_and_end_in_the_exact_state()
    {
        var site = new KafkaSite(_cluster, "join").Create();
        var input = new TestInput(sensors: 100, readingsPerSensor: 400, batchSize: 1000);
        var all = input.Batches.SelectMany(b => b).ToArray();
        await site.ProduceAsync(all.Take(16_000));

        // Members of one cluster share one store: sensors move between them with their snapshots.
        var postgres = new PostgresServer();
        await postgres.InitializeAsync();
        var store = await postgres.CreateDatabaseAsync();
        var dataDirectory = NodeFixture.NewDataDirectory();
        var config = site.NodeConfig(dataDirectory, "join-group", snapshotEvery: 40, postgres: store);
        var first = await AnomalyHost.StartAsync(config);
        await NodeFixture.AwaitAsync(() => first.KafkaMetrics.MessagesConsumed >= 8_000, TimeSpan.FromSeconds(60), "the first node consuming");

        var seed = Cluster.Get(first.Node.System).SelfAddress.ToString();
        // Readings keep arriving while the second node joins the cluster and the group...
        var producing = Task.Run(async () =>
        {
            foreach (var part in all.Skip(16_000).Take(12_000).Chunk(1000))
            {
                await site.ProduceAsync(part);
                await Task.Delay(100);
            }
        });
        var second = await AnomalyHost.StartAsync(site.NodeConfig(NodeFixture.NewDataDirectory(), "join-group", snapshotEvery: 40, seed: seed, postgres: store));
        await NodeFixture.AwaitAsync(() => second.KafkaMetrics.AssignedPartitions > 0, TimeSpan.FromSeconds(60), "the second node to get partitions");
        await producing;
        // ...and after the rebalance, so both nodes consume.
        await site.ProduceAsync(all.Skip(28_000));
        await NodeFixture.AwaitAsync(() => second.KafkaMetrics.MessagesConsumed > 0, TimeSpan.FromSeconds(60), "the second node to consume");
        Assert.True(first.KafkaMetrics.AssignedPartitions is > 0 and < 4, $"The first node kept {first.KafkaMetrics.AssignedPartitions} partitions.");
        var actual = await site.OutcomesAsync(first.Node);
        await second.StopAsync();
        await first.StopAsync();

        await postgres.DisposeAsync();

        var (expected, expectedAlerts) = await UninterruptedAsync(site, "join-reference");
        NodeFixture.AssertSameOutcomes(expected, actual);
        AssertAlerts(site, expectedAlerts);
    }

    [Fact]
    public async Task Should_resume_by_itself_after_a_broker_is_down_for_ten_seconds()
    {
        var site = new KafkaSite(_cluster, "outage").Create();
        var input = new TestInput(sensors: 100, readingsPerSensor: 300, batchSize: 1000);
        var all = input.Batches.SelectMany(b => b).ToArray();
        await site.ProduceAsync(all.Take(10_000));

        var node = await AnomalyHost.StartAsync(site.NodeConfig(NodeFixture.NewDataDirectory(), "outage-group", snapshotEvery: 40));
        await NodeFixture.AwaitAsync(() => node.KafkaMetrics.MessagesConsumed >= 5_000, TimeSpan.FromSeconds(60), "consuming before the outage");
        _cluster.BrokerDown(1);
        var producing = site.ProduceAsync(all.Skip(10_000));
        await Task.Delay(TimeSpan.FromSeconds(10)); // the outage itself: its length is the point of the test
        _cluster.BrokerUp(1);
        await producing;
        var outcomes = await site.OutcomesAsync(node.Node);
        await node.StopAsync();

        Assert.Equal(30_000, outcomes.Sum(o => o.ReadingsScored));
    }

    [Fact]
    public async Task Should_take_readings_from_kcat_and_serve_alerts_to_kcat()
    {
        var site = new KafkaSite(_cluster, "kcat", partitions: 1).Create();
        var lines = new StringBuilder();
        for (var i = 0; i < 60; i++)
        {
            var value = i == 50 ? 500.0 : 20 + (i % 3) * 0.1;
            lines.Append(System.Globalization.CultureInfo.InvariantCulture, $"sensors/dc1/fan-7/rpm|{value}").Append('\n');
        }

        var produced = await Kcat.RunAsync(lines.ToString(), TimeSpan.FromSeconds(30), "-b", _cluster.BootstrapServers, "-P", "-t", site.Readings, "-K|");
        Assert.True(produced.ExitCode == 0, produced.Stderr);

        var node = await AnomalyHost.StartAsync(site.NodeConfig(NodeFixture.NewDataDirectory(), "kcat-group", alarmAfter: 20));
        await NodeFixture.AwaitAsync(() => node.KafkaMetrics.AlertsProduced >= 1, TimeSpan.FromSeconds(60), "the spike's alert");
        await node.StopAsync();

        var consumed = await Kcat.RunAsync(string.Empty, TimeSpan.FromSeconds(30),
            "-b", _cluster.BootstrapServers, "-C", "-t", site.Alerts, "-o", "beginning", "-e", "-f", "%k|%h|%s\\n");
        Assert.True(consumed.ExitCode == 0, consumed.Stderr);
        var first = consumed.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)[0].Split('|');
        Assert.Equal("dc1/fan-7/rpm#1", first[0]);
        Assert.Contains("site=dc1", first[1]);
        Assert.Contains("device=fan-7", first[1]);
        Assert.Contains("metric=rpm", first[1]);
        Assert.Contains("severity=", first[1]);
        Assert.Contains("\"type\":\"open\"", first[2]);
    }

    [Fact]
    public async Task Should_dead_letter_readings_of_a_stream_that_moves_to_another_partition_and_keep_its_state()
    {
        var site = new KafkaSite(_cluster, "moved", partitions: 2).Create();
        var node = await AnomalyHost.StartAsync(site.NodeConfig(NodeFixture.NewDataDirectory(), "moved-group"));
        using var producer = new ProducerBuilder<string, byte[]>(new ProducerConfig { BootstrapServers = _cluster.BootstrapServers }).Build();
        var start = 1_700_000_000_000L;
        for (var i = 0; i < 10; i++)
        {
            var reading = new Reading("s/d/m", start + i * 1000, 20 + i);
            await producer.ProduceAsync(new TopicPartition(site.Readings, 0), KafkaSite.Message(reading));
        }

        await NodeFixture.AwaitAsync(async () => (await NodeFixture.QueryAsync(node.Node, ["s/d/m"]))[0].ReadingsScored == 10, TimeSpan.FromSeconds(30), "the stream's first readings");

        // Act: the same stream shows up on partition 1 (a producer keyed it differently), then partition 0 goes on
        for (var i = 10; i < 13; i++)
        {
            await producer.ProduceAsync(new TopicPartition(site.Readings, 1), KafkaSite.Message(new Reading("s/d/m", start + i * 1000, 99)));
        }

        await producer.ProduceAsync(new TopicPartition(site.Readings, 0), KafkaSite.Message(new Reading("s/d/m", start + 20_000, 30)));
        await NodeFixture.AwaitAsync(async () => (await NodeFixture.QueryAsync(node.Node, ["s/d/m"]))[0].ReadingsScored == 11, TimeSpan.FromSeconds(30), "the next reading on the stream's own partition");
        await NodeFixture.AwaitAsync(() => node.KafkaMetrics.DeadLettersWritten >= 1, TimeSpan.FromSeconds(30), "the moved readings dead-lettered");
        var view = (await NodeFixture.QueryAsync(node.Node, ["s/d/m"]))[0];
        await node.StopAsync();

        // Assert: not applied, not silently dropped
        Assert.Equal(0, view.PartitionId);
        Assert.Equal(3, node.Node.Metrics.ReadingsRefused);
        var deadLetters = site.ReadAll(site.DeadLetters, 1);
        Assert.All(deadLetters, d =>
        {
            Assert.Equal("WrongPartition", Header(d, "reason"));
            Assert.Contains("bound to partition 0, arrived on partition 1", Header(d, "detail"));
        });
        Assert.Equal(3, deadLetters.Sum(d => JsonDocument.Parse(d.Message.Value).RootElement.GetArrayLength()));
    }

    private static async Task<(SensorOutcome[] Outcomes, string[] Alerts)> UninterruptedAsync(KafkaSite site, string group)
    {
        var referenceAlerts = new KafkaSite(site.Cluster, site.Readings.Replace("-readings", string.Empty) + "-ref");
        site.Cluster.CreateTopic(referenceAlerts.Alerts, 1);
        site.Cluster.CreateTopic(referenceAlerts.Enriched, KafkaSite.EnrichedPartitions);
        var config = Akka.Configuration.ConfigurationFactory.ParseString($"anomaly-actors.kafka.alerts-topic = \"{referenceAlerts.Alerts}\"\nanomaly-actors.kafka.enriched-topic = \"{referenceAlerts.Enriched}\"")
            .WithFallback(site.NodeConfig(NodeFixture.NewDataDirectory(), group, snapshotEvery: 40));
        var node = await AnomalyHost.StartAsync(config);
        var outcomes = await site.OutcomesAsync(node.Node);
        await NodeFixture.AwaitAsync(() => node.KafkaMetrics.AlertsProduced >= node.Node.Metrics.EpisodesOpened + node.Node.Metrics.EpisodesClosed, TimeSpan.FromSeconds(30), "reference alerts");
        await node.StopAsync();
        var alerts = site.ReadAll(referenceAlerts.Alerts, 1).Select(a => a.Message.Key + " " + Encoding.UTF8.GetString(a.Message.Value)).ToArray();
        return (outcomes, alerts);
    }

    /// <summary>Every expected alert is on the alerts topic; repeats are identical to the first copy.</summary>
    private static void AssertAlerts(KafkaSite site, string[] expectedAlerts)
    {
        var actual = site.ReadAll(site.Alerts, 1).Select(a => a.Message.Key + " " + Encoding.UTF8.GetString(a.Message.Value)).ToArray();
        Assert.Equal(expectedAlerts.Distinct().Order(), actual.Distinct().Order());
    }

    private static string Header(ConsumeResult<string, byte[]> message, string key) =>
        message.Message.Headers.TryGetLastBytes(key, out var bytes) ? Encoding.UTF8.GetString(bytes) : string.Empty;
}
