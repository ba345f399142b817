using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Akka.Actor;
using Akka.Configuration;
using AnomalyActors.Benchmarks.Common;
using AnomalyActors.Benchmarks.Nab;
using AnomalyActors.Core.Queries;
using AnomalyActors.Core.State;
using AnomalyActors.Host;
using AnomalyActors.Streams.Kafka;
using AnomalyActors.Kafka.Testing;
using AnomalyActors.Node.Hosting;
using AnomalyActors.Testing;
using Confluent.Kafka;

namespace AnomalyActors.Benchmarks.Kafka;

/// <summary>
/// <c>kafka [--readings N] [--rounds N] [--sensors N] [--partitions N] [--warm-up-readings N] [--warm-up-rounds N]
/// [--latency-seconds S] [--latency-rate R] [--latency-linger-ms L] [--spikes-per-second N] [--enriched] [--snapshot-every N]
/// [--snapshot-interval-seconds S] [--max-batch N] [--hocon TEXT]</c>: starts a
/// librdkafka mock cluster and warms the node up; then, in each of --rounds rounds, produces the readings
/// and times, in alternating order, a raw Confluent consume loop over them and the node's end-to-end
/// rate (topic -> SensorActors with a durable SQLite store, commits following snapshots, alerts
/// produced) over the same readings, both from their first message; then produce-to-consume latency of
/// a plain consumer and produce-to-alert latency of the node, both at half the node's rate. Last line:
/// one JSON object.
/// </summary>
public static class KafkaHarness
{
    private const string Topic = "readings";
    private const int WarmUpPerSensor = 60;
    private const string RawLatencyTopic = "latency-raw";
    private static readonly byte[] Normal = Encoding.UTF8.GetBytes("20");
    private static readonly byte[] Spike = Encoding.UTF8.GetBytes("500");

    public static int Run(string[] args)
    {
        var options = new HarnessArgs(args);
        // A million keeps each timed part above a second at this machine's rates (200,000 took 0.2-0.8 s).
        var readings = options.GetInt("readings") ?? 1_000_000;
        var sensors = options.GetInt("sensors") ?? 1_000;
        // Readings in the measured pattern (spikes included) the node scores before anything is timed,
        // so the timed part runs code the JIT has finished with, as a node that has been up a while does.
        var warmUpReadings = options.GetInt("warm-up-readings") ?? 300_000;
        // Rejoins before the timed one: the code that materializes each partition's stream runs once
        // per assignment, so it takes a few to be compiled for good (tiered JIT).
        var warmUpRounds = Math.Max(1, options.GetInt("warm-up-rounds") ?? 3);
        // Timed rounds, each a raw part and a node part over the same readings in alternating order.
        var rounds = Math.Max(1, options.GetInt("rounds") ?? 3);
        // The mock keeps about 5 MB per partition (some 100,000 of these messages), so 50,000 per
        // partition keeps the whole run readable. Not more partitions than that: the mock's fetch
        // work grows with them, and at 55 instead of 23-28 the floor's p99 at 20,000 readings/s went
        // from 20-23 ms to 90 ms.
        var partitions = options.GetInt("partitions") ?? Math.Max(4, (readings + warmUpReadings + WarmUpPerSensor * sensors) / 50_000 + 1);
        var latencySeconds = options.GetInt("latency-seconds") ?? 10;
        // Spikes (timed alerts) per second in the latency phase: 20 for 10 s gives 200 samples.
        var spikesPerSecond = options.GetInt("spikes-per-second") ?? 20;
        // Readings/s in the latency phase; default half the measured end-to-end rate, where the latency target applies.
        var latencyRate = options.GetInt("latency-rate");
        // The latency phases' producer linger, part of the measured time: librdkafka's default, as a
        // device bridge would run it. Each linger makes one message set per partition in the mock, and
        // the mock finds a fetch position by walking a partition's message sets from the oldest: at 1 ms
        // and only 100,000 readings/s that walk
        // (rd_kafka_mock_msgset_find) was 48% of the process's CPU and the mock's thread used 0.96 of
        // a core while a plain consumer was timed; a real broker indexes its log.
        var latencyLingerMs = options.GetInt("latency-linger-ms") ?? 5;
        var enriched = options.Get("enriched") is not null;
        var snapshotEvery = options.GetInt("snapshot-every") ?? 50_000;
        var snapshotInterval = options.GetInt("snapshot-interval-seconds") ?? 30;
        var maxBatch = options.GetInt("max-batch") ?? 2000;
        // Extra node configuration for experiments, e.g. --hocon 'anomaly-actors.kafka.producer-properties { "linger.ms" = "0" }'.
        var hocon = options.Get("hocon") ?? string.Empty;
        var result = RunAsync(readings, rounds, warmUpReadings, warmUpRounds, sensors, partitions, latencySeconds, spikesPerSecond, latencyRate, latencyLingerMs, enriched, snapshotEvery, snapshotInterval, maxBatch, hocon).GetAwaiter().GetResult();
        // Printed once the mock cluster is gone, so no client's closing log line follows it.
        Console.WriteLine(JsonSerializer.Serialize(result));
        return (long)result["lost"] == 0 ? 0 : 1;
    }

    private static async Task<Dictionary<string, object>> RunAsync(int readings, int rounds, int warmUpReadings, int warmUpRounds, int sensors, int partitions, int latencySeconds, int spikesPerSecond, int? fixedLatencyRate, int latencyLingerMs, bool enriched, int snapshotEvery, int snapshotInterval, int maxBatch, string hocon)
    {
        using var cluster = new MockKafkaCluster(brokers: 3);
        cluster.CreateTopic(Topic, partitions);
        cluster.CreateTopic("alerts", 1);
        cluster.CreateTopic("enriched", Math.Max(16, partitions * 2));
        cluster.CreateTopic("dead-letters", 1);
        cluster.CreateTopic(RawLatencyTopic, partitions);
        var keys = Enumerable.Range(0, sensors).Select(i => $"bench/device-{i}/value").ToArray();
        var payloads = new Payloads(keys);
        using var producer = new ProducerBuilder<string, byte[]>(new ProducerConfig
        {
            BootstrapServers = cluster.BootstrapServers,
            EnableIdempotence = true,
            LingerMs = latencyLingerMs,
            QueueBufferingMaxMessages = 2_000_000,
        }).Build();

        // The readings both consumers race over are written in large batches: the mock cluster finds
        // a fetch position by walking the partition's message sets one by one, so thousands of tiny
        // sets (1 ms linger at full speed) made the broker, on the same two cores, the main cost of
        // whichever consumer fetched more often (perf: rd_kafka_mock_msgset_find at 22% of the
        // node phase). A real broker indexes its log. The latency phases use the producer above.
        using var bulkProducer = new ProducerBuilder<string, byte[]>(new ProducerConfig
        {
            BootstrapServers = cluster.BootstrapServers,
            EnableIdempotence = true,
            LingerMs = 50,
            BatchNumMessages = 10_000,
            QueueBufferingMaxMessages = 2_000_000,
        }).Build();
        // Warm-up: every sensor created and past its alarm warm-up before anything is timed.
        var produced = 0L;
        for (var r = 0; r < WarmUpPerSensor; r++)
        {
            foreach (var key in keys)
            {
                bulkProducer.Produce(Topic, payloads.Next(key, spike: false));
                produced++;
            }
        }

        bulkProducer.Flush();
        var dataDirectory = ScratchDirectory.Create("anomaly-actors-bench-kafka");
        var config = ConfigurationFactory.ParseString($$"""
            anomaly-actors {
              data-dir = "{{dataDirectory}}"
              persistence.provider = sqlite
              intake.partitions = 2
              # Snapshot cadence: the node's defaults (hocon/anomaly-actors.conf) unless overridden.
              sensor.snapshot-every-readings = {{snapshotEvery}}
              sensor.snapshot-interval = {{snapshotInterval}}s
              alerts.console = off
              # The dashboard stays on, as users run it, on any free port.
              web.port = 0
              alerts.file = ""
              mqtt.enabled = off
              detection.detectors.ewma.alarm-after = 40
              kafka {
                enabled = on
                bootstrap-servers = "{{cluster.BootstrapServers}}"
                group-id = "bench"
                readings-topic = "{{Topic}}"
                enriched-topic = "{{(enriched ? "enriched" : string.Empty)}}"
                alerts-topic = "alerts"
                dead-letters-topic = "dead-letters"
                commit-interval = 200ms
                max-batch = {{maxBatch}}
                session-timeout = 6s
              }
            }
            akka.loglevel = WARNING
            """);
        if (!string.IsNullOrWhiteSpace(hocon))
        {
            config = ConfigurationFactory.ParseString(hocon).WithFallback(config);
        }

        var coldStart = Stopwatch.StartNew();
        var node = await AnomalyHost.StartAsync(config);
        var warmUp = (long)WarmUpPerSensor * sensors;
        await WaitAsync(() => node.Node.Metrics.ReadingsScored >= warmUp, TimeSpan.FromMinutes(5), "warm-up scored");
        coldStart.Stop();
        // The second warm-up goes through the timed part's steps (stop, readings waiting in the topic,
        // rejoin, catch up), so rejoining and materializing the partitions' streams is not compiled
        // for the first time while the clock runs.
        for (var round = 0; round < warmUpRounds; round++)
        {
            await node.Kafka!.StopAsync();
            var perRound = warmUpReadings / warmUpRounds;
            ProduceMeasuredPattern(bulkProducer, payloads, keys, perRound);
            produced += perRound;
            node.Kafka.Resume();
            await WaitAsync(() => node.Node.Metrics.ReadingsScored >= produced, TimeSpan.FromMinutes(5), "warm-up round scored");
        }

        // Let every sensor snapshot the warm-up and the group commit past it, so the timed part
        // reads only the measured readings (uncommitted warm-up would be read again and skipped).
        await WaitForGroupToCommitEverythingAsync(cluster.BootstrapServers, partitions, TimeSpan.FromSeconds(snapshotInterval * 2 + 30));
        var jitSettle = Stopwatch.StartNew();
        await WaitForJitToSettleAsync();
        jitSettle.Stop();
        var consumedBefore = node.KafkaMetrics.MessagesConsumed;

        // Timed rounds. Each produces its readings while the node's consumer is stopped, so they wait in
        // the topic; then the raw loop and the node each read exactly those, in alternating order from
        // round to round, so that what the machine's neighbours do and what one part leaves behind fall
        // on both alike. Each round's ratio compares two parts seconds apart; ratio_to_raw is their median.
        var rawParts = new List<RawPart>();
        var nodeParts = new List<NodePart>();
        var produceTime = TimeSpan.Zero;
        for (var round = 0; round < rounds; round++)
        {
            if (round > 0)
            {
                // The previous round's readings committed, so the node's rejoin starts at this round's.
                await WaitForGroupToCommitEverythingAsync(cluster.BootstrapServers, partitions, TimeSpan.FromSeconds(snapshotInterval * 2 + 30));
            }

            await node.Kafka!.StopAsync();
            var roundStart = EndOffsets(cluster.BootstrapServers, partitions);
            var produceClock = Stopwatch.StartNew();
            ProduceMeasuredPattern(bulkProducer, payloads, keys, readings);
            produceTime += produceClock.Elapsed;
            produced += readings;
            if (round % 2 == 0)
            {
                rawParts.Add(RawConsume(cluster.BootstrapServers, roundStart, readings));
                nodeParts.Add(await TimeNodeAsync(node, readings));
            }
            else
            {
                nodeParts.Add(await TimeNodeAsync(node, readings));
                rawParts.Add(RawConsume(cluster.BootstrapServers, roundStart, readings));
            }

            var (r, n) = (rawParts[^1], nodeParts[^1]);
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"round {round + 1}: raw {r.Rate,10:N0} msg/s ({r.CpuMicrosPerMessage:0.00} us CPU/msg, steal {r.StealPercent}%), " +
                $"node {n.Rate,10:N0} readings/s ({n.CpuMicrosPerReading:0.00} us CPU/reading, steal {n.StealPercent}%, {n.JitMethods} methods JIT-compiled); ratio {n.Rate / r.Rate:0.000}"));
        }

        var ratios = nodeParts.Zip(rawParts, (n, r) => n.Rate / r.Rate).ToArray();
        var raw = rawParts.Sum(r => r.Messages) / rawParts.Sum(r => r.Elapsed.TotalSeconds);
        var kafkaRate = nodeParts.Sum(n => n.Readings) / nodeParts.Sum(n => n.Elapsed.TotalSeconds);
        var latencyRate = fixedLatencyRate ?? kafkaRate / 2;
        // The floor under the node's latency: the same producer at the same rate into a topic of as
        // many partitions, read by a plain consumer (no node work on the path), in this run.
        Console.Error.WriteLine($"phase raw-latency {DateTime.UtcNow:HH:mm:ss.fff}");
        var rawLatencyHostBefore = HostCpu.Read();
        var (rawP50, rawP99, rawLatencyBusy) = RawLatency(cluster.BootstrapServers, producer, keys, latencyRate, latencySeconds, spikesPerSecond);
        // Latency at half the measured rate: spikes on sensors whose episodes have closed, timed
        // from the produce call to the alert's arrival on the alerts topic.
        // Spikes only on sensors without an open episode (one opened by the measured readings'
        // last spikes would swallow a timed spike, which then has no alert to time).
        var rawLatencySteal = HostCpu.StealPercent(rawLatencyHostBefore, HostCpu.Read());
        var quietKeys = await QuietSensorsAsync(node, keys);
        Console.Error.WriteLine($"phase latency {DateTime.UtcNow:HH:mm:ss.fff}");
        var latencyHostBefore = HostCpu.Read();
        var (p50, p99, measuredAlerts, latencyReadings, alertLeg, latencyBusy) = await MeasureLatencyAsync(cluster.BootstrapServers, producer, payloads, keys, quietKeys, latencyRate, latencySeconds, spikesPerSecond);
        var latencySteal = HostCpu.StealPercent(latencyHostBefore, HostCpu.Read());
        produced += latencyReadings;

        await WaitAsync(() => node.Node.Metrics.ReadingsScored >= produced, TimeSpan.FromSeconds(60), "every reading scored", throwOnTimeout: false);
        var lost = produced - node.Node.Metrics.ReadingsScored;
        var consumedAfter = node.KafkaMetrics.MessagesConsumed;
        var snapshotsSaved = node.Node.Metrics.SnapshotsSaved;
        var commits = node.KafkaMetrics.Commits;
        await node.StopAsync();
        ScratchDirectory.DeleteQuietly(dataDirectory);

        var result = new Dictionary<string, object>
        {
            ["mode"] = "kafka",
            ["readings"] = (long)readings * rounds,
            ["sensors"] = sensors,
            ["partitions"] = partitions,
            ["enriched"] = enriched,
            ["snapshot_every"] = snapshotEvery,
            ["snapshot_interval_s"] = snapshotInterval,
            ["max_batch"] = maxBatch,
            ["hocon"] = hocon,
            ["rounds"] = rounds,
            ["readings_per_round"] = readings,
            ["produce_per_s"] = Math.Round(readings * rounds / produceTime.TotalSeconds),
            // Messages (readings) over the summed time of the rounds' parts.
            ["raw_consume_per_s"] = Math.Round(raw),
            ["kafka_readings_per_s"] = Math.Round(kafkaRate),
            // The median of the rounds' ratios, each node part against the raw part next to it.
            ["ratio_to_raw"] = Math.Round(Rounds.Median(ratios), 3),
            ["round_ratios"] = ratios.Select(x => Math.Round(x, 3)).ToArray(),
            ["round_raw_per_s"] = rawParts.Select(r => Math.Round(r.Rate)).ToArray(),
            ["round_node_per_s"] = nodeParts.Select(n => Math.Round(n.Rate)).ToArray(),
            // Whole-process CPU (the in-process mock cluster included) per message in each timed part:
            // which side is short of CPU and which of time.
            ["raw_cpu_us_per_msg"] = Math.Round(rawParts.Sum(r => r.Cpu.TotalMicroseconds) / rawParts.Sum(r => r.Messages), 2),
            ["node_cpu_us_per_reading"] = Math.Round(nodeParts.Sum(n => n.Cpu.TotalMicroseconds) / nodeParts.Sum(n => n.Readings), 2),
            // Share of the machine's CPU time the hypervisor took while each part ran (/proc/stat
            // steal; -1 where unknown): a slow run with high steal was starved, not slow.
            ["raw_steal_pct"] = rawParts.Select(r => r.StealPercent).ToArray(),
            ["node_steal_pct"] = nodeParts.Select(n => n.StealPercent).ToArray(),
            // How busy the machine's two cores were (all processes) during each part: the node's parts
            // near 100 are short of CPU, the raw loop's of its single consumer thread.
            ["raw_busy_pct"] = rawParts.Select(r => r.BusyPercent).ToArray(),
            ["node_busy_pct"] = nodeParts.Select(n => n.BusyPercent).ToArray(),
            ["raw_latency_steal_pct"] = rawLatencySteal,
            ["latency_steal_pct"] = latencySteal,
            // How busy the machine's cores were (/proc/stat, all processes) during each latency phase:
            // near 100, the load generator, the mock brokers and the consumer queue for the two cores.
            ["raw_latency_busy_pct"] = rawLatencyBusy,
            ["latency_busy_pct"] = latencyBusy,
            // Rejoining the group before the first reading arrived (not in the timed part), per round.
            ["group_join_s"] = nodeParts.Select(n => Math.Round(n.GroupJoin.TotalSeconds, 2)).ToArray(),
            // When the partition actors had handed every reading to the sensors (the rest is scoring).
            ["handed_over_s"] = nodeParts.Select(n => Math.Round(n.HandedOver.TotalSeconds, 2)).ToArray(),
            ["scored_s"] = nodeParts.Select(n => Math.Round(n.Elapsed.TotalSeconds, 2)).ToArray(),
            ["cold_start_s"] = Math.Round(coldStart.Elapsed.TotalSeconds, 2),
            ["warm_up_readings"] = warmUpReadings,
            ["warm_up_rounds"] = warmUpRounds,
            ["jit_settle_s"] = Math.Round(jitSettle.Elapsed.TotalSeconds, 2),
            // Methods the JIT compiled while the node part was timed, and its time on them: near zero
            // when the warm-up did its job.
            ["node_phase_jit_methods"] = nodeParts.Select(n => n.JitMethods).ToArray(),
            ["node_phase_jit_ms"] = nodeParts.Select(n => Math.Round(n.JitTime.TotalMilliseconds)).ToArray(),
            // Messages the node read while timed: more than the readings when uncommitted ones were read again.
            ["node_phase_messages"] = nodeParts.Select(n => n.MessagesConsumed).ToArray(),
            // Batches the partition actors took while the node was timed (messages / batches = mean batch).
            ["node_phase_batches"] = nodeParts.Select(n => n.Batches).ToArray(),
            ["latency_rate_per_s"] = Math.Round(latencyRate),
            ["latency_linger_ms"] = latencyLingerMs,
            ["latency_alerts"] = measuredAlerts,
            ["p50_ms"] = Math.Round(p50, 1),
            ["p99_ms"] = Math.Round(p99, 1),
            // Produce-to-consume of a plain consumer at the same rate: the mock broker's and the clients' share.
            ["raw_p50_ms"] = Math.Round(rawP50, 1),
            ["raw_p99_ms"] = Math.Round(rawP99, 1),
            // The last hop alone: node producing the alert -> alerts reader (Kafka CreateTime, whole ms).
            ["alert_leg_p50_ms"] = alertLeg.P50,
            ["alert_leg_p99_ms"] = alertLeg.P99,
            ["snapshots"] = snapshotsSaved,
            ["commits"] = commits,
            ["batches"] = node.KafkaMetrics.Batches,
            ["deliver_ms"] = Math.Round(node.KafkaMetrics.DeliverTime.TotalMilliseconds),
            ["redeliveries"] = node.KafkaMetrics.Redeliveries,
            ["messages_consumed_after_warm_up"] = consumedAfter - consumedBefore,
            ["lost"] = lost,
        };
        return result;
    }

    /// <summary>The measured readings' pattern, round-robin over the sensors with a spike every 997th, flushed.</summary>
    private static void ProduceMeasuredPattern(IProducer<string, byte[]> producer, Payloads payloads, string[] keys, int count)
    {
        for (var i = 0; i < count; i++)
        {
            producer.Produce(Topic, payloads.Next(keys[i % keys.Length], spike: i % 997 == 0));
        }

        producer.Flush();
    }

    /// <summary>
    /// Waits until the node's group has committed every partition of the readings topic to its end:
    /// sensors snapshot on their own timers, and the partition actors commit what is durable.
    /// </summary>
    private static async Task WaitForGroupToCommitEverythingAsync(string bootstrap, int partitions, TimeSpan timeout)
    {
        using var probe = new ConsumerBuilder<Ignore, Ignore>(new ConsumerConfig { BootstrapServers = bootstrap, GroupId = "bench" }).Build();
        var topicPartitions = Enumerable.Range(0, partitions).Select(p => new TopicPartition(Topic, p)).ToList();
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            var committed = probe.Committed(topicPartitions, TimeSpan.FromSeconds(10));
            var behind = committed.Count(c => c.Offset.Value < probe.QueryWatermarkOffsets(c.TopicPartition, TimeSpan.FromSeconds(10)).High.Value);
            if (behind == 0)
            {
                return;
            }

            if (deadline.Elapsed > timeout)
            {
                throw new TimeoutException($"The group had not committed the warm-up on {behind} of {partitions} partitions.");
            }

            await Task.Delay(250);
        }
    }

    /// <summary>Waits until the JIT has compiled nothing new for a second (tier-up of the warm-up's hot code), at most 30 s.</summary>
    private static async Task WaitForJitToSettleAsync()
    {
        var deadline = Stopwatch.StartNew();
        var last = System.Runtime.JitInfo.GetCompiledMethodCount();
        var quiet = Stopwatch.StartNew();
        while (quiet.Elapsed < TimeSpan.FromSeconds(1) && deadline.Elapsed < TimeSpan.FromSeconds(30))
        {
            await Task.Delay(100);
            var now = System.Runtime.JitInfo.GetCompiledMethodCount();
            if (now != last)
            {
                last = now;
                quiet.Restart();
            }
        }
    }

    private static TimeSpan ProcessCpu()
    {
        using var self = Process.GetCurrentProcess();
        return self.TotalProcessorTime;
    }

    /// <summary>The sensors (by key, which is their stream key) that have no episode open.</summary>
    private static async Task<string[]> QuietSensorsAsync(AnomalyHost node, string[] keys)
    {
        var views = await Task.WhenAll(keys.Select(key => node.Node.Sensors.Ask<SensorStateView>(new GetSensorState(key), TimeSpan.FromSeconds(30))));
        return views.Where(view => !view.EpisodeOpen).Select(view => view.SensorId).ToArray();
    }

    /// <param name="Messages">Messages timed: all but the first, which starts the clock.</param>
    private sealed record RawPart(long Messages, TimeSpan Elapsed, TimeSpan Cpu, double StealPercent, double BusyPercent)
    {
        public double Rate => Messages / Elapsed.TotalSeconds;
        public double CpuMicrosPerMessage => Cpu.TotalMicroseconds / Messages;
    }

    /// <param name="Readings">Readings timed: all but the first batch, which starts the clock.</param>
    private sealed record NodePart(
        long Readings, TimeSpan Elapsed, TimeSpan Cpu, double StealPercent, double BusyPercent, TimeSpan GroupJoin, TimeSpan HandedOver, long JitMethods, TimeSpan JitTime, long MessagesConsumed, long Batches)
    {
        public double Rate => Readings / Elapsed.TotalSeconds;
        public double CpuMicrosPerReading => Cpu.TotalMicroseconds / Readings;
    }

    /// <summary>Where the next message of each partition of the readings topic will go.</summary>
    private static List<TopicPartitionOffset> EndOffsets(string bootstrap, int partitions)
    {
        using var probe = new ConsumerBuilder<Ignore, Ignore>(new ConsumerConfig { BootstrapServers = bootstrap, GroupId = "bench-probe" }).Build();
        return Enumerable.Range(0, partitions)
            .Select(p => new TopicPartition(Topic, p))
            .Select(tp => new TopicPartitionOffset(tp, probe.QueryWatermarkOffsets(tp, TimeSpan.FromSeconds(10)).High))
            .ToList();
    }

    /// <summary>
    /// The node's consumer rejoins the group and reads the readings waiting in the topic; timed like the
    /// raw loop, from its first reading until every one is scored and every alert is on the alerts topic.
    /// </summary>
    private static async Task<NodePart> TimeNodeAsync(AnomalyHost node, int readings)
    {
        var scoredBefore = node.Node.Metrics.ReadingsScored;
        var deliveredBefore = node.KafkaMetrics.ReadingsDelivered;
        var joinClock = Stopwatch.StartNew();
        node.Kafka!.Resume();
        // Rejoining the group (the mock broker's rebalance delay, about 3 s) is neither loop's work.
        // A spinning thread sees the first delivery within microseconds; it only spins while the
        // consumer is joining.
        var (clock, firstBatch) = await Task.Factory.StartNew(() =>
        {
            while (node.KafkaMetrics.ReadingsDelivered == deliveredBefore)
            {
                if (joinClock.Elapsed > TimeSpan.FromMinutes(2))
                {
                    throw new TimeoutException("The node consumed nothing after rejoining the group.");
                }

                Thread.SpinWait(20);
            }

            return (Stopwatch.StartNew(), node.KafkaMetrics.ReadingsDelivered - deliveredBefore);
        }, TaskCreationOptions.LongRunning);
        var cpuBefore = ProcessCpu();
        var hostBefore = HostCpu.Read();
        var consumedAtStart = node.KafkaMetrics.MessagesConsumed;
        var batchesAtStart = node.KafkaMetrics.Batches;
        var jitMethodsBefore = System.Runtime.JitInfo.GetCompiledMethodCount();
        var jitTimeBefore = System.Runtime.JitInfo.GetCompilationTime();
        // Phase marks on stderr let a profiler attach to one timed part (perf record -p PID).
        Console.Error.WriteLine($"phase node {DateTime.UtcNow:HH:mm:ss.fff}");
        var groupJoin = joinClock.Elapsed;
        var handedOver = TimeSpan.Zero;
        await WaitAsync(() =>
        {
            if (handedOver == TimeSpan.Zero && node.KafkaMetrics.ReadingsDelivered - deliveredBefore >= readings)
            {
                handedOver = clock.Elapsed;
            }

            return node.Node.Metrics.ReadingsScored - scoredBefore >= readings;
        }, TimeSpan.FromMinutes(10), "all readings scored");
        await WaitAsync(() => node.KafkaMetrics.AlertsProduced >= node.Node.Metrics.EpisodesOpened + node.Node.Metrics.EpisodesClosed, TimeSpan.FromMinutes(1), "alerts produced");
        clock.Stop();
        var hostAfter = HostCpu.Read();
        return new NodePart(
            readings - firstBatch,
            clock.Elapsed,
            ProcessCpu() - cpuBefore,
            HostCpu.StealPercent(hostBefore, hostAfter),
            HostCpu.BusyPercent(hostBefore, hostAfter),
            groupJoin,
            handedOver,
            System.Runtime.JitInfo.GetCompiledMethodCount() - jitMethodsBefore,
            System.Runtime.JitInfo.GetCompilationTime() - jitTimeBefore,
            node.KafkaMetrics.MessagesConsumed - consumedAtStart,
            node.KafkaMetrics.Batches - batchesAtStart);
    }

    /// <summary>
    /// A plain Confluent consumer reading the round's messages (from <paramref name="from"/>, assigned, so
    /// no group join): the reference rate, timed from its first message to its last.
    /// </summary>
    private static RawPart RawConsume(string bootstrap, List<TopicPartitionOffset> from, long expected)
    {
        // The fetch wait KafkaIngestion gives the node's consumer.
        using var consumer = new ConsumerBuilder<string, byte[]>(ConnectorConsumerConfig(bootstrap, "raw-" + Guid.NewGuid().ToString("N"), fetchWaitMaxMs: 10)).Build();
        consumer.Assign(from);
        _ = consumer.Consume(TimeSpan.FromSeconds(30)) ?? throw new TimeoutException("The raw consumer got nothing.");
        var clock = Stopwatch.StartNew();
        var cpuBefore = ProcessCpu();
        var hostBefore = HostCpu.Read();
        Console.Error.WriteLine($"phase raw {DateTime.UtcNow:HH:mm:ss.fff}");
        var count = 1L;
        while (count < expected)
        {
            if (consumer.Consume(TimeSpan.FromSeconds(10)) is null)
            {
                throw new TimeoutException($"The raw consumer stalled after {count} of {expected} messages.");
            }

            count++;
        }

        clock.Stop();
        var cpu = ProcessCpu() - cpuBefore;
        var hostAfter = HostCpu.Read();
        consumer.Close();
        return new RawPart(count - 1, clock.Elapsed, cpu, HostCpu.StealPercent(hostBefore, hostAfter), HostCpu.BusyPercent(hostBefore, hostAfter));
    }

    /// <param name="AlertLeg">Of the same alerts: from the node producing the alert (its Kafka CreateTime) to the reader, in whole ms.</param>
    /// <param name="BusyPercent">How busy the machine's cores were while the readings went out (all processes).</param>
    private sealed record LatencyResult(double P50, double P99, int Alerts, long Readings, (double P50, double P99) AlertLeg, double BusyPercent);

    private static async Task<LatencyResult> MeasureLatencyAsync(
        string bootstrap, IProducer<string, byte[]> producer, Payloads payloads, string[] keys, string[] spikeKeys, double rate, int seconds, int spikesPerSecond)
    {
        var matcher = new LatencyMatcher<(string Sensor, long Offset)>();
        var alertLegs = new ConcurrentQueue<double>();
        using var stop = new CancellationTokenSource();
        var alertsReader = Task.Factory.StartNew(() =>
        {
            using var consumer = ReaderAtEnd(bootstrap, producer, "alerts", fetchWaitMaxMs: 1);
            while (!stop.IsCancellationRequested)
            {
                var message = consumer.Consume(TimeSpan.FromMilliseconds(50));
                if (message is null)
                {
                    continue;
                }

                var arrived = Stopwatch.GetTimestamp();
                using var json = JsonDocument.Parse(message.Message.Value);
                if (json.RootElement.GetProperty("type").GetString() != "open")
                {
                    continue;
                }

                alertLegs.Enqueue(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - message.Message.Timestamp.UnixTimestampMs);
                var sensor = message.Message.Key[..message.Message.Key.IndexOf('#')];
                var offset = ExternalOffsets.MessageOf(json.RootElement.GetProperty("offset").GetInt64());
                matcher.Arrived((sensor, offset), arrived);
            }
        }, TaskCreationOptions.LongRunning);

        // Spikes on a rotating sensor, far apart per sensor so each opens an episode.
        var total = (long)(rate * seconds);
        var spikeEvery = Math.Max(1, (long)(rate / spikesPerSecond));
        var hostBefore = HostCpu.Read();
        var clock = Stopwatch.StartNew();
        var spikeSensor = 0;
        for (var i = 0L; i < total; i++)
        {
            WaitUntilDue(clock, i, rate);
            var spike = i % spikeEvery == spikeEvery / 2;
            var key = spike ? spikeKeys[spikeSensor++ % spikeKeys.Length] : keys[i % keys.Length];
            var producedAt = Stopwatch.GetTimestamp();
            ProduceReading(producer, Topic, payloads.Next(key, spike),
                spike ? report => matcher.Sent((key, report.Offset.Value), producedAt) : null);
        }

        producer.Flush();
        var busy = HostCpu.BusyPercent(hostBefore, HostCpu.Read());
        await WaitAsync(() => matcher.AllArrived, TimeSpan.FromSeconds(30), "alerts of every spike", throwOnTimeout: false);
        stop.Cancel();
        await alertsReader;
        var (p50, p99, count) = matcher.Percentiles();
        var legs = alertLegs.Order().ToArray();
        var alertLeg = legs.Length == 0 ? (double.NaN, double.NaN) : (Percentile(legs, 0.5), Percentile(legs, 0.99));
        return new LatencyResult(p50, p99, count, total, alertLeg, busy);
    }

    /// <summary>
    /// Produces a reading of a latency phase. Only a timed one (<paramref name="delivered"/> given) gets a
    /// delivery-report callback: a managed callback for every message was 4.6% of the latency phase's
    /// CPU (perf), on the cores the node shares; 0.9% now.
    /// </summary>
    private static void ProduceReading(IProducer<string, byte[]> producer, string topic, Message<string, byte[]> message, Action<DeliveryReport<string, byte[]>>? delivered)
    {
        if (delivered is null)
        {
            producer.Produce(topic, message);
            return;
        }

        producer.Produce(topic, message, report =>
        {
            if (!report.Error.IsError)
            {
                delivered(report);
            }
        });
    }

    /// <summary>
    /// Paces producing: reading i is due i / rate seconds in. Readings go out in the bursts that
    /// are due every millisecond (as many devices' would): a per-message spin would keep one of
    /// the machine's two cores busy just pacing.
    /// </summary>
    private static void WaitUntilDue(Stopwatch clock, long i, double rate)
    {
        var due = TimeSpan.FromSeconds(i / rate);
        while (clock.Elapsed < due)
        {
            Thread.Sleep(1);
        }
    }

    private static (double P50, double P99, double BusyPercent) RawLatency(string bootstrap, IProducer<string, byte[]> producer, string[] keys, double rate, int seconds, int spikesPerSecond)
    {
        var matcher = new LatencyMatcher<(int Partition, long Offset)>();
        using var stop = new CancellationTokenSource();
        var reader = Task.Factory.StartNew(() =>
        {
            // The same fetch wait as the node's consumer of the readings topic.
            using var consumer = ReaderAtEnd(bootstrap, producer, RawLatencyTopic, fetchWaitMaxMs: 10);
            while (!stop.IsCancellationRequested)
            {
                var message = consumer.Consume(TimeSpan.FromMilliseconds(50));
                if (message is not null && message.Message.Value.Length == Spike.Length)
                {
                    matcher.Arrived((message.Partition.Value, message.Offset.Value), Stopwatch.GetTimestamp());
                }
            }
        }, TaskCreationOptions.LongRunning);

        Thread.Sleep(TimeSpan.FromSeconds(2)); // the reader is assigned before anything is timed
        var total = (long)(rate * seconds);
        var spikeEvery = Math.Max(1, (long)(rate / spikesPerSecond));
        var hostBefore = HostCpu.Read();
        var clock = Stopwatch.StartNew();
        for (var i = 0L; i < total; i++)
        {
            WaitUntilDue(clock, i, rate);
            var spike = i % spikeEvery == spikeEvery / 2;
            var producedAt = Stopwatch.GetTimestamp();
            ProduceReading(producer, RawLatencyTopic, new Message<string, byte[]> { Key = keys[i % keys.Length], Value = spike ? Spike : Normal },
                spike ? report => matcher.Sent((report.Partition.Value, report.Offset.Value), producedAt) : null);
        }

        producer.Flush();
        var busy = HostCpu.BusyPercent(hostBefore, HostCpu.Read());
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!matcher.AllArrived && DateTime.UtcNow < deadline)
        {
            Thread.Sleep(10);
        }

        stop.Cancel();
        reader.Wait();
        var (p50, p99, _) = matcher.Percentiles();
        return (p50, p99, busy);
    }

    /// <summary>
    /// The configuration the connector gives the node's consumer, for the harness's plain consumers, so
    /// they differ from the node only in what happens after a message arrives. With librdkafka's default
    /// fetch.queue.backoff.ms (1 s) instead, the plain reader of the floor stopped fetching for up to a
    /// second whenever its queue passed queued.min.messages, and the floor's p50 read 3.9 s in one run.
    /// </summary>
    private static ConsumerConfig ConnectorConsumerConfig(string bootstrap, string groupId, int fetchWaitMaxMs) =>
        ConsumerSettings<string, byte[]>.Create()
            .WithBootstrapServers(bootstrap)
            .WithGroupId(groupId)
            .WithProperty("fetch.wait.max.ms", fetchWaitMaxMs.ToString(CultureInfo.InvariantCulture))
            .CreateConsumerConfig();

    /// <summary>A consumer of every partition of the topic from its current end: it sees only what is produced next.</summary>
    private static IConsumer<string, byte[]> ReaderAtEnd(string bootstrap, IProducer<string, byte[]> producer, string topic, int fetchWaitMaxMs)
    {
        var consumer = new ConsumerBuilder<string, byte[]>(ConnectorConsumerConfig(bootstrap, topic + "-reader-" + Guid.NewGuid().ToString("N"), fetchWaitMaxMs)).Build();
        using var admin = new DependentAdminClientBuilder(producer.Handle).Build();
        consumer.Assign(admin.GetMetadata(topic, TimeSpan.FromSeconds(10)).Topics[0].Partitions
            .Select(p => new TopicPartition(topic, p.PartitionId))
            .Select(partition => new TopicPartitionOffset(partition, consumer.QueryWatermarkOffsets(partition, TimeSpan.FromSeconds(10)).High))
            .ToList());
        return consumer;
    }

    /// <summary>
    /// Pairs a timed message's produce timestamp (known once its delivery report names its offset)
    /// with its arrival at a consumer, in whichever order the two threads see them.
    /// </summary>
    private sealed class LatencyMatcher<TKey> where TKey : notnull
    {
        // Timed messages are few (tens per second): one lock keeps the pairing simple and exact.
        private readonly Lock _lock = new();
        private readonly Dictionary<TKey, long> _sent = [];
        private readonly Dictionary<TKey, long> _arrived = [];
        private readonly List<double> _latencies = [];

        public bool AllArrived
        {
            get
            {
                lock (_lock)
                {
                    return _sent.Count == 0;
                }
            }
        }

        public void Sent(TKey key, long producedAt)
        {
            lock (_lock)
            {
                if (_arrived.Remove(key, out var arrivedAt))
                {
                    _latencies.Add(Stopwatch.GetElapsedTime(producedAt, arrivedAt).TotalMilliseconds);
                }
                else
                {
                    _sent[key] = producedAt;
                }
            }
        }

        public void Arrived(TKey key, long arrivedAt)
        {
            lock (_lock)
            {
                if (_sent.Remove(key, out var producedAt))
                {
                    _latencies.Add(Stopwatch.GetElapsedTime(producedAt, arrivedAt).TotalMilliseconds);
                }
                else
                {
                    _arrived[key] = arrivedAt;
                }
            }
        }

        public (double P50, double P99, int Count) Percentiles()
        {
            double[] sorted;
            lock (_lock)
            {
                sorted = _latencies.Order().ToArray();
            }

            return sorted.Length == 0 ? (double.NaN, double.NaN, 0) : (Percentile(sorted, 0.5), Percentile(sorted, 0.99), sorted.Length);
        }
    }

    private static double Percentile(double[] sorted, double q) => Percentiles.NearestRank(sorted, q);

    private static async Task WaitAsync(Func<bool> condition, TimeSpan timeout, string what, bool throwOnTimeout = true)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                if (throwOnTimeout)
                {
                    throw new TimeoutException("Timed out waiting for " + what);
                }

                return;
            }

            await Task.Delay(5);
        }
    }

    /// <summary>
    /// Readings as bridged devices publish them: key = the device's MQTT topic (it selects the shared
    /// payload format), value = the number, timestamp = the reading's time, one second apart per
    /// sensor. A spike is far outside the band.
    /// </summary>
    private sealed class Payloads(string[] keys)
    {
        private readonly Dictionary<string, (string Topic, long Next)> _state = keys.ToDictionary(k => k, k => ("sensors/" + k, 1_700_000_000_000L));

        public Message<string, byte[]> Next(string key, bool spike)
        {
            var (topic, ts) = _state[key];
            _state[key] = (topic, ts + 1000);
            // Constant between spikes, so only spikes open episodes (each spike's alert is timed).
            return new Message<string, byte[]>
            {
                Key = topic,
                Value = spike ? Spike : Normal,
                Timestamp = new Timestamp(ts, TimestampType.CreateTime),
            };
        }
    }
}
