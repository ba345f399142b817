using System.Text;

using AnomalyActors.Core.Protocol;
using AnomalyActors.Core.State;
using AnomalyActors.Kafka.Testing;
using AnomalyActors.Node.Hosting;
using AnomalyActors.Node.Tests;
using AnomalyActors.TestNode;
using Confluent.Kafka;

namespace AnomalyActors.Kafka.Tests;

/// <summary>Topics of one site on the mock cluster, a node configuration for them, and helpers to produce and read.</summary>
public sealed class KafkaSite(MockKafkaCluster cluster, string name, int partitions = 4)
{
    public string Readings => name + "-readings";
    public string Enriched => name + "-enriched";
    public string Alerts => name + "-alerts";
    public string DeadLetters => name + "-dead-letters";
    public MockKafkaCluster Cluster => cluster;

    public const int EnrichedPartitions = 16;

    /// <summary>Last offset (reading offset, see ExternalOffsets) of every stream produced so far.</summary>
    public Dictionary<string, long> FinalOffsets { get; } = new(StringComparer.Ordinal);

    public long Produced { get; private set; }

    public KafkaSite Create()
    {
        cluster.CreateTopic(Readings, partitions);
        // The mock keeps about 5 MB per partition and drops older messages: enough partitions keep
        // every enriched record of a test readable.
        cluster.CreateTopic(Enriched, EnrichedPartitions);
        cluster.CreateTopic(Alerts, 1);
        cluster.CreateTopic(DeadLetters, 1);
        return this;
    }

    public Akka.Configuration.Config NodeConfig(
        string dataDirectory, string group, int snapshotEvery = 100, bool enriched = true, string? seed = null, int alarmAfter = 100, bool journalEpisodes = false,
        string? postgres = null) =>
        Akka.Configuration.ConfigurationFactory.ParseString($$"""
            anomaly-actors.kafka {
              enabled = on
              bootstrap-servers = "{{cluster.BootstrapServers}}"
              group-id = "{{group}}"
              readings-topic = "{{Readings}}"
              enriched-topic = "{{(enriched ? Enriched : string.Empty)}}"
              alerts-topic = "{{Alerts}}"
              dead-letters-topic = "{{DeadLetters}}"
              commit-interval = 100ms
              session-timeout = 3s
            }
            anomaly-actors.site = "{{name}}"
            anomaly-actors.sensor.journal-episodes = {{(journalEpisodes ? "on" : "off")}}
            anomaly-actors.detection.detectors.ewma.alarm-after = {{alarmAfter}}
            anomaly-actors.alerts.file = ""
            anomaly-actors.mqtt.enabled = off
            akka.cluster.seed-nodes = [{{(seed is null ? string.Empty : "\"" + seed + "\"")}}]
            """).WithFallback(postgres is null
                ? TestNodeConfig.For(dataDirectory, snapshotEvery: snapshotEvery)
                : TestNodeConfig.For(dataDirectory, "postgresql", postgres, snapshotEvery: snapshotEvery));

    /// <summary>
    /// A reading as a site's devices publish it, bridged to Kafka: the MQTT topic
    /// sensors/site/device/metric as the key (it picks the shared payload format and keeps a stream
    /// on one partition), the number as the payload, the reading's time as the message timestamp.
    /// </summary>
    public static Message<string, byte[]> Message(Reading reading)
    {
        var id = StreamId.Parse(reading.StreamKey);
        return new Message<string, byte[]>
        {
            Key = $"sensors/{id.Site}/{id.Device}/{id.Metric}",
            Value = Encoding.UTF8.GetBytes(reading.Value.ToString("R", System.Globalization.CultureInfo.InvariantCulture)),
            Timestamp = new Timestamp(reading.TimestampMs, TimestampType.CreateTime),
        };
    }

    /// <summary>Produces readings keyed by stream (one per message) and records each stream's last offset.</summary>
    public async Task ProduceAsync(IEnumerable<Reading> readings, IEnumerable<(string Key, byte[] Payload)>? malformed = null)
    {
        using var producer = new ProducerBuilder<string, byte[]>(new ProducerConfig
        {
            BootstrapServers = cluster.BootstrapServers,
            EnableIdempotence = true,
            LingerMs = 5,
        }).Build();
        var failures = 0;
        var lastOffsets = new Dictionary<string, long>(StringComparer.Ordinal);
        void Report(string key, DeliveryReport<string, byte[]> report, bool isReading)
        {
            if (report.Error.IsError)
            {
                Interlocked.Increment(ref failures);
                return;
            }

            if (isReading)
            {
                lock (lastOffsets)
                {
                    var offset = ExternalOffsets.Compose(report.Offset.Value, 0);
                    if (!lastOffsets.TryGetValue(key, out var known) || known < offset)
                    {
                        lastOffsets[key] = offset;
                    }
                }
            }
        }

        // The client's queue holds 100,000 messages: when it is full, wait for deliveries (bounded).
        void Produce(Message<string, byte[]> message, Action<DeliveryReport<string, byte[]>> report)
        {
            for (var attempt = 0; ; attempt++)
            {
                try
                {
                    producer.Produce(Readings, message, report);
                    return;
                }
                catch (ProduceException<string, byte[]> e) when (e.Error.Code == ErrorCode.Local_QueueFull && attempt < 600)
                {
                    producer.Poll(TimeSpan.FromMilliseconds(100));
                }
            }
        }

        var count = 0L;
        var malformedQueue = new Queue<(string Key, byte[] Payload)>(malformed ?? []);
        foreach (var reading in readings)
        {
            var key = reading.StreamKey;
            Produce(Message(reading), r => Report(key, r, true));
            count++;
            if (malformedQueue.Count > 0 && count % 997 == 0)
            {
                var (badKey, payload) = malformedQueue.Dequeue();
                Produce(new Message<string, byte[]> { Key = badKey, Value = payload }, r => Report(badKey, r, false));
            }
        }

        while (malformedQueue.Count > 0)
        {
            var (badKey, payload) = malformedQueue.Dequeue();
            Produce(new Message<string, byte[]> { Key = badKey, Value = payload }, r => Report(badKey, r, false));
        }

        await Task.Run(() => producer.Flush(TimeSpan.FromSeconds(120)));
        if (failures > 0)
        {
            throw new InvalidOperationException($"{failures} messages could not be produced.");
        }

        foreach (var (key, offset) in lastOffsets)
        {
            FinalOffsets[key] = offset;
        }

        Produced += count;
    }

    /// <summary>Reads a topic from the beginning to its current end (as a plain assigned consumer).</summary>
    public List<ConsumeResult<string, byte[]>> ReadAll(string topic, int topicPartitions)
    {
        using var consumer = new ConsumerBuilder<string, byte[]>(new ConsumerConfig
        {
            BootstrapServers = cluster.BootstrapServers,
            GroupId = "reader-" + Guid.NewGuid().ToString("N"),
            EnableAutoCommit = false,
            Debug = Environment.GetEnvironmentVariable("READER_DEBUG"),
        }).Build();
        var result = new List<ConsumeResult<string, byte[]>>();
        var remaining = new Dictionary<int, long>();
        var assignment = new List<TopicPartitionOffset>();
        for (var p = 0; p < topicPartitions; p++)
        {
            var partition = new TopicPartition(topic, p);
            var watermarks = consumer.QueryWatermarkOffsets(partition, TimeSpan.FromSeconds(10));
            var end = watermarks.High.Value;
            if (watermarks.Low.Value > 0)
            {
                throw new InvalidOperationException($"{topic} [{p}] no longer holds its first {watermarks.Low.Value} messages (the mock's retention).");
            }

            if (end > 0)
            {
                remaining[p] = end;
                assignment.Add(new TopicPartitionOffset(partition, 0));
            }
        }

        consumer.Assign(assignment);
        while (remaining.Count > 0)
        {
            var message = consumer.Consume(TimeSpan.FromSeconds(10)) ?? throw new TimeoutException($"Reading {topic} stalled after {result.Count} messages; waiting for {string.Join(", ", remaining.Select(r => $"p{r.Key} < {r.Value}"))}; last per partition {string.Join(", ", result.GroupBy(m => m.Partition.Value).Select(g => $"p{g.Key} = {g.Max(m => m.Offset.Value)}"))}.");
            var p = message.Partition.Value;
            if (!remaining.TryGetValue(p, out var end) || message.Offset.Value >= end)
            {
                continue;
            }

            result.Add(message);
            if (message.Offset.Value + 1 >= end)
            {
                remaining.Remove(p);
            }
        }

        return result;
    }

    /// <summary>Waits until every stream produced so far has been applied up to its last offset.</summary>
    public async Task<SensorOutcome[]> OutcomesAsync(AnomalyNode node) =>
        await NodeFixture.OutcomesAsync(node, FinalOffsets);
}
