using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Akka.Actor;
using Akka.Cluster.Sharding;
using Akka.Configuration;
using AnomalyActors.Benchmarks.Nab;
using AnomalyActors.Core.Commands;
using AnomalyActors.Core.Protocol;
using AnomalyActors.Core.Queries;
using AnomalyActors.Node.Hosting;
using AnomalyActors.Testing;

namespace AnomalyActors.Benchmarks.Fleet;

/// <summary>
/// <c>fleet [--sensors 100000] [--detector ewma|rcf] [--readings-per-sensor N] [--passivate-seconds 20] [--set "HOCON"]</c>:
/// what a fleet of streams costs one node with the shipped configuration (SQLite, its partitions and
/// snapshot rules): N streams get a few readings each (EWMA: 5; RCF: 300, enough to fill its trees'
/// samples) with passivation off, and the node's memory is taken with every stream active; the node
/// is stopped and started again on the same data directory (passivating after --passivate-seconds
/// idle; the shipped idle time is 2 minutes), and the time until every stream has answered
/// (recovered, able to score) is the cold start; once every stream has been passivated the memory is
/// taken again (what an idle stream still costs). Memory per stream is the growth of the managed heap
/// after a full collection and of the working set over the first node just started, divided by N.
/// --set adds one line of HOCON over the shipped configuration (to measure a setting against the
/// default). Last line: one JSON object.
/// </summary>
internal static class FleetHarness
{
    public static int Run(string[] argv)
    {
        var args = new HarnessArgs(argv);
        var detector = args.Get("detector") ?? "ewma";
        if (detector is not ("ewma" or "rcf"))
        {
            Console.Error.WriteLine($"--detector must be ewma or rcf, not '{detector}'.");
            return 2;
        }

        var sensors = args.GetInt("sensors") ?? (detector == "rcf" ? 10_000 : 100_000);
        var perSensor = args.GetInt("readings-per-sensor") ?? (detector == "rcf" ? 300 : 5);
        var passivateSeconds = args.GetInt("passivate-seconds") ?? 20;
        if (sensors < 1 || perSensor < 1 || passivateSeconds < 1)
        {
            Console.Error.WriteLine("--sensors, --readings-per-sensor and --passivate-seconds must be positive.");
            return 2;
        }

        var extra = args.Get("set") ?? string.Empty;
        Console.WriteLine($"fleet: {sensors:N0} {detector} streams x {perSensor} readings, passivated after {passivateSeconds} s idle{(extra.Length > 0 ? $", with {extra}" : string.Empty)}");
        var result = RunAsync(sensors, perSensor, detector, passivateSeconds, extra).GetAwaiter().GetResult();
        result["set"] = extra.Length > 0 ? extra : null;
        Console.WriteLine(JsonSerializer.Serialize(result));
        return 0;
    }

    private static async Task<Dictionary<string, object?>> RunAsync(int sensors, int perSensor, string detector, int passivateSeconds, string extra)
    {
        // The shipped configuration routes metric RPM to the Random Cut Forest and any other name to EWMA.
        var metric = detector == "rcf" ? "RPM" : "value";
        var keys = Enumerable.Range(0, sensors).Select(i => string.Create(CultureInfo.InvariantCulture, $"site-{i % 4}/device-{i}/{metric}")).ToArray();
        var dataDirectory = ScratchDirectory.Create("anomaly-actors-fleet");
        Akka.Configuration.Config Config(int passivateAfterSeconds) => ConfigurationFactory.ParseString($$"""
            anomaly-actors {
              data-dir = "{{dataDirectory}}"
              alerts.console = off
              sensor.passivate-idle-after = {{passivateAfterSeconds}}s
            }
            akka.loglevel = WARNING
            {{extra}}
            """);
        try
        {
            var startedAt = Stopwatch.StartNew();
            // First every stream created and kept active (no passivation while the fleet is fed).
            var node = await AnomalyNode.StartAsync(Config(24 * 3600), systemName: "fleet");
            Console.WriteLine($"  node started in {startedAt.Elapsed.TotalSeconds:0.00} s");
            var (managedBase, workingBase) = Memory();

            var ingest = Stopwatch.StartNew();
            var random = new Random(42);
            var start = new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds();
            var pending = new Queue<Task<object>>();
            const int BatchSize = 65_536;
            var batch = new List<Reading>(BatchSize);
            var batchNumber = 0;
            async Task SendAsync()
            {
                pending.Enqueue(node.IngestAsync(new IngestReadings("fleet", batchNumber++, [.. batch]), TimeSpan.FromMinutes(10)));
                batch.Clear();
                if (pending.Count >= 8)
                {
                    Check(await pending.Dequeue());
                }
            }

            for (var round = 0; round < perSensor; round++)
            {
                foreach (var key in keys)
                {
                    batch.Add(new Reading(key, start + (round * 1000L), 10 + random.Next(11)));
                    if (batch.Count == BatchSize)
                    {
                        await SendAsync();
                    }
                }
            }

            if (batch.Count > 0)
            {
                await SendAsync();
            }

            while (pending.Count > 0)
            {
                Check(await pending.Dequeue());
            }

            var total = (long)sensors * perSensor;
            await AwaitAsync(() => node.Metrics.ReadingsScored >= total, TimeSpan.FromMinutes(20), () => $"{node.Metrics.ReadingsScored:N0} of {total:N0} readings scored");
            var ingestSeconds = ingest.Elapsed.TotalSeconds;
            var active = await ActiveStreamsAsync(node);
            var (managedActive, workingActive) = Memory();
            Console.WriteLine($"  {total:N0} readings scored in {ingestSeconds:0.0} s; {active:N0} streams active; managed heap +{(managedActive - managedBase) / 1048576.0:0.0} MB, working set +{(workingActive - workingBase) / 1048576.0:0.0} MB");

            var stop = Stopwatch.StartNew();
            await node.StopAsync();
            var stopSeconds = stop.Elapsed.TotalSeconds;

            // Cold start: the same data directory, every stream asked for its state (recovering it).
            var cold = Stopwatch.StartNew();
            node = await AnomalyNode.StartAsync(Config(passivateSeconds), systemName: "fleet");
            var nodeUpSeconds = cold.Elapsed.TotalSeconds;
            long readingsRecovered = 0;
            foreach (var chunk in keys.Chunk(1000))
            {
                var states = await Task.WhenAll(chunk.Select(k => node.Sensors.Ask<SensorStateView>(new GetSensorState(k), TimeSpan.FromMinutes(10))));
                readingsRecovered += states.Sum(s => s.ReadingsScored);
            }

            var coldSeconds = cold.Elapsed.TotalSeconds;
            if (readingsRecovered != total)
            {
                throw new InvalidOperationException($"after the restart the streams hold {readingsRecovered:N0} readings, not {total:N0}");
            }

            Console.WriteLine($"  cold start: node up in {nodeUpSeconds:0.00} s, every stream recovered {coldSeconds:0.00} s after the start ({sensors / coldSeconds:N0} streams/s)");

            // Idle: every stream passivated, its state only in the store.
            var idleClock = Stopwatch.StartNew();
            await AwaitAsync(() => ActiveStreamsAsync(node).Result == 0, TimeSpan.FromSeconds(passivateSeconds + 600), () => $"{ActiveStreamsAsync(node).Result:N0} streams still active");
            var (managedIdle, workingIdle) = Memory();
            Console.WriteLine($"  every stream passivated {idleClock.Elapsed.TotalSeconds:0.0} s later; managed heap +{(managedIdle - managedBase) / 1048576.0:0.0} MB, working set +{(workingIdle - workingBase) / 1048576.0:0.0} MB over the first node just started");
            await node.StopAsync();
            return new Dictionary<string, object?>
            {
                ["sensors"] = sensors,
                ["detector"] = detector,
                ["readings_per_sensor"] = perSensor,
                ["ingest_seconds"] = Math.Round(ingestSeconds, 2),
                ["bytes_per_active_stream_managed"] = PerStream(managedActive - managedBase, sensors),
                ["bytes_per_active_stream_working_set"] = PerStream(workingActive - workingBase, sensors),
                ["bytes_per_idle_stream_managed"] = PerStream(managedIdle - managedBase, sensors),
                ["bytes_per_idle_stream"] = PerStream(workingIdle - workingBase, sensors),
                ["streams_active_when_fed"] = active,
                ["stop_seconds"] = Math.Round(stopSeconds, 2),
                ["node_up_after_restart_seconds"] = Math.Round(nodeUpSeconds, 2),
                ["cold_start_seconds"] = Math.Round(coldSeconds, 2),
                ["cold_start_streams_per_s"] = Math.Round(sensors / coldSeconds),
                ["peak_working_set_mb"] = Math.Round(Process.GetCurrentProcess().PeakWorkingSet64 / 1048576.0, 1),
            };
        }
        finally
        {
            ScratchDirectory.DeleteQuietly(dataDirectory);
        }

    }

    private static long PerStream(long bytes, int sensors) => bytes / sensors;

    /// <summary>The managed heap after a full, compacting collection, and the process's working set.</summary>
    private static (long Managed, long WorkingSet) Memory()
    {
        System.Runtime.GCSettings.LargeObjectHeapCompactionMode = System.Runtime.GCLargeObjectHeapCompactionMode.CompactOnce;
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
        using var process = Process.GetCurrentProcess();
        return (GC.GetTotalMemory(forceFullCollection: false), process.WorkingSet64);
    }

    private static async Task<int> ActiveStreamsAsync(AnomalyNode node)
    {
        var stats = await node.Sensors.Ask<ShardRegionStats>(GetShardRegionStats.Instance, TimeSpan.FromSeconds(30));
        return stats.Stats.Values.Sum();
    }

    private static async Task AwaitAsync(Func<bool> done, TimeSpan timeout, Func<string> what)
    {
        var clock = Stopwatch.StartNew();
        while (!done())
        {
            if (clock.Elapsed > timeout)
            {
                throw new TimeoutException($"gave up after {timeout.TotalSeconds:0} s: {what()}");
            }

            await Task.Delay(100);
        }
    }

    private static void Check(object reply)
    {
        if (reply is not ReadingsAccepted)
        {
            throw new InvalidOperationException($"Batch not accepted: {reply}");
        }
    }
}
