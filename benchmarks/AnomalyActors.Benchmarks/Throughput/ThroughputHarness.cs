using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Akka.Actor;
using Akka.Configuration;
using AnomalyActors.Benchmarks.Nab;
using AnomalyActors.Core.Commands;
using AnomalyActors.Core.Protocol;
using AnomalyActors.Core.State;
using AnomalyActors.Node.Hosting;
using AnomalyActors.Testing;

namespace AnomalyActors.Benchmarks.Throughput;

/// <summary>
/// <c>throughput --sensors N --readings N [--durable sqlite|postgres] [--partitions P] [--batch B]
/// [--in-flight W] [--postgres CONNECTION] [--snapshot-interval SECONDS] [--snapshot-every READINGS]</c>. Measures, in one run over the same seeded readings:
/// a plain loop applying each stream's configured detectors over arrays, the actor pipeline with
/// persistence off, and (with --durable) the same pipeline with a durable intake. A batch counts as
/// done when every one of its readings was scored by its SensorActor; with --durable scoring only
/// happens after the chunk is in the journal, so the figure includes durability.
/// </summary>
internal static class ThroughputHarness
{
    public static int Run(string[] argv)
    {
        var args = new HarnessArgs(argv);
        var sensors = args.GetInt("sensors") ?? 10_000;
        var readings = args.GetInt("readings") ?? 10_000_000;
        var partitions = args.GetInt("partitions") ?? 8;
        var batchSize = args.GetInt("batch") ?? 65_536;
        var inFlight = args.GetInt("in-flight") ?? 8;
        var durable = args.Get("durable");
        var snapshotInterval = args.GetInt("snapshot-interval");
        var snapshotEvery = args.GetInt("snapshot-every");
        if (durable is not (null or "sqlite" or "postgres"))
        {
            Console.Error.WriteLine($"--durable must be sqlite or postgres, not '{durable}'.");
            return 2;
        }

        var postgres = args.Get("postgres") ?? Environment.GetEnvironmentVariable("ANOMALY_ACTORS_POSTGRES");
        if (durable == "postgres" && string.IsNullOrWhiteSpace(postgres))
        {
            Console.Error.WriteLine("--durable postgres needs --postgres CONNECTION or ANOMALY_ACTORS_POSTGRES.");
            return 2;
        }

        Console.WriteLine($"Generating {readings:N0} readings over {sensors:N0} sensors (seed 42)...");
        var workload = Workload.Create(sensors, readings, batchSize, seed: 42);

        var plain = PlainLoop(workload);
        Console.WriteLine($"plain loop:           {plain,14:N0} readings/s");

        var actors = RunNode(workload, "none", null, partitions, inFlight, snapshotInterval, snapshotEvery).GetAwaiter().GetResult();
        Console.WriteLine($"actors, no persistence: {actors,12:N0} readings/s");

        double? durableRate = null;
        if (durable is not null)
        {
            durableRate = RunNode(workload, durable == "sqlite" ? "sqlite" : "postgresql", postgres, partitions, inFlight, snapshotInterval, snapshotEvery).GetAwaiter().GetResult();
            Console.WriteLine($"actors, durable ({durable}): {durableRate,10:N0} readings/s");
        }

        var result = new Dictionary<string, object?>
        {
            ["plain_loop_readings_per_s"] = Math.Round(plain),
            ["actors_readings_per_s"] = Math.Round(actors),
            ["durable_readings_per_s"] = durableRate is { } d ? Math.Round(d) : null,
            ["durable_store"] = durable,
            ["ratio_durable_to_plain"] = durableRate is { } d2 ? Math.Round(d2 / plain, 4) : null,
            ["ratio_actors_to_plain"] = Math.Round(actors / plain, 4),
            ["ratio_durable_to_actors"] = durableRate is { } d3 ? Math.Round(d3 / actors, 4) : null,
            ["sensors"] = sensors,
            ["readings"] = readings,
            ["partitions"] = partitions,
            ["batch"] = batchSize,
            ["in_flight"] = inFlight,
            ["peak_working_set_mb"] = Math.Round(Process.GetCurrentProcess().PeakWorkingSet64 / 1048576.0, 1),
        };
        Console.WriteLine(JsonSerializer.Serialize(result));
        return 0;
    }

    /// <summary>The detector math alone: each stream's configured detectors over flat arrays.</summary>
    private static double PlainLoop(Workload workload)
    {
        var (config, source) = NodeConfig.Load();
        var detection = Node.Settings.NodeSettings.FromConfig(config, source).Detection;
        var detectors = workload.Keys.Select(detection.CreateFor).ToArray();
        var sensorOf = workload.SensorIndex;
        var timestamps = workload.Timestamps;
        var values = workload.Values;
        var stopwatch = Stopwatch.StartNew();
        for (var i = 0; i < values.Length; i++)
        {
            detectors[sensorOf[i]].Update(timestamps[i], values[i]);
        }

        return values.Length / stopwatch.Elapsed.TotalSeconds;
    }

    private static async Task<double> RunNode(Workload workload, string provider, string? postgres, int partitions, int inFlight, int? snapshotInterval, int? snapshotEvery)
    {
        var snapshotOverrides = (snapshotInterval is { } seconds ? $"sensor.snapshot-interval = {seconds}s\n" : string.Empty)
            + (snapshotEvery is { } every ? $"sensor.snapshot-every-readings = {every}\n" : string.Empty);
        var dataDirectory = ScratchDirectory.Create("anomaly-actors-bench");
        var overrides = ConfigurationFactory.ParseString($$"""
            anomaly-actors {
              data-dir = "{{dataDirectory}}"
              persistence.provider = {{provider}}
              persistence.postgresql.connection-string = "{{postgres ?? string.Empty}}"
              intake.partitions = {{partitions}}
              alerts.console = off
              {{snapshotOverrides}}
            }
            akka.loglevel = WARNING
            """);
        var node = await AnomalyNode.StartAsync(overrides, systemName: "bench-" + provider);
        try
        {
            // Untimed: every SensorActor is created and recovers first (from an empty store here),
            // so the timed part measures sustained scoring, not a fleet's cold start.
            var warmUp = Stopwatch.StartNew();
            foreach (var keys in workload.Keys.Chunk(1000))
            {
                await Task.WhenAll(keys.Select(k => node.Sensors.Ask<Core.Queries.SensorStateView>(new Core.Queries.GetSensorState(k), TimeSpan.FromMinutes(5))));
            }

            Console.WriteLine($"  {provider}: {workload.Keys.Length:N0} sensors started and recovered in {warmUp.Elapsed.TotalSeconds:0.000} s ({workload.Keys.Length / warmUp.Elapsed.TotalSeconds:N0}/s, untimed)");

            var pending = new Queue<Task<object>>();
            var stopwatch = Stopwatch.StartNew();
            for (var b = 0; b < workload.Batches.Length; b++)
            {
                pending.Enqueue(node.IngestAsync(new IngestReadings("bench", b, workload.Batches[b]), TimeSpan.FromMinutes(5)));
                if (pending.Count >= inFlight)
                {
                    Check(await pending.Dequeue());
                }
            }

            while (pending.Count > 0)
            {
                Check(await pending.Dequeue());
            }

            var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(2);
            while (node.Metrics.ReadingsScored < workload.Values.Length)
            {
                if (DateTime.UtcNow > deadline)
                {
                    throw new InvalidOperationException(
                        $"{provider}: only {node.Metrics.ReadingsScored:N0} of {workload.Values.Length:N0} readings were scored within 2 minutes of the last acknowledgement.");
                }

                await Task.Delay(1);
            }

            var elapsed = stopwatch.Elapsed;
            Console.WriteLine($"  {provider}: {workload.Values.Length:N0} readings in {elapsed.TotalSeconds:0.000} s, " +
                              $"{node.Metrics.ChunksStored:N0} chunks, {node.Metrics.SnapshotsSaved:N0} snapshots, {node.Metrics.EpisodesOpened:N0} episodes");
            return workload.Values.Length / elapsed.TotalSeconds;
        }
        finally
        {
            await node.StopAsync();
            ScratchDirectory.DeleteQuietly(dataDirectory);
        }
    }

    private static void Check(object reply)
    {
        if (reply is not ReadingsAccepted)
        {
            throw new InvalidOperationException($"Batch not accepted: {reply}");
        }
    }

    /// <summary>Seeded readings, round-robin over the sensors, as source batches and as flat arrays.</summary>
    private sealed class Workload
    {
        public required string[] Keys { get; init; }
        public required int[] SensorIndex { get; init; }
        public required long[] Timestamps { get; init; }
        public required double[] Values { get; init; }
        public required Reading[][] Batches { get; init; }

        public static Workload Create(int sensors, int readings, int batchSize, int seed)
        {
            var random = new Random(seed);
            var keys = Enumerable.Range(0, sensors).Select(i => string.Create(CultureInfo.InvariantCulture, $"site-{i % 4}/device-{i}/value")).ToArray();
            var sensorIndex = new int[readings];
            var timestamps = new long[readings];
            var values = new double[readings];
            var start = new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds();
            for (var i = 0; i < readings; i++)
            {
                var sensor = i % sensors;
                var round = i / sensors;
                sensorIndex[i] = sensor;
                timestamps[i] = start + round * 1000L;
                // As the simulator's demo sensor: normally 10-20, with probability 1% an anomaly 100-120.
                values[i] = random.NextDouble() < 0.01 ? 100 + random.Next(21) : 10 + random.Next(11);
            }

            var batches = new Reading[(readings + batchSize - 1) / batchSize][];
            for (var b = 0; b < batches.Length; b++)
            {
                var from = b * batchSize;
                var batch = new Reading[Math.Min(batchSize, readings - from)];
                for (var j = 0; j < batch.Length; j++)
                {
                    batch[j] = new Reading(keys[sensorIndex[from + j]], timestamps[from + j], values[from + j]);
                }

                batches[b] = batch;
            }

            return new Workload { Keys = keys, SensorIndex = sensorIndex, Timestamps = timestamps, Values = values, Batches = batches };
        }
    }
}
