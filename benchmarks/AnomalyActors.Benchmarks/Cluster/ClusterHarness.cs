using System.Globalization;
using AnomalyActors.Benchmarks.Nab;
using AnomalyActors.CrashTesting;

namespace AnomalyActors.Benchmarks.Cluster;

/// <summary>
/// <c>cluster [--nodes 3] [--sensors 10000] [--readings-per-sensor 150] [--partitions 64]
/// [--disruption kill|rolling-restart|kill-and-restart|partition (as root: members in network namespaces)] [--source kafka|mqtt-singleton|mqtt-shared] [--postgres CONNECTION]
/// [--timeout SECONDS] [--keep-logs DIR] [--rate READINGS_PER_S] [--restart-delay SECONDS (partition)]</c>: a site's
/// members as `anomaly-actors run` processes on one PostgreSQL (a private one unless --postgres),
/// results on a Kafka mock cluster, readings from its topic or from mosquitto (--source); one member alone scores the readings first (the reference and the
/// single-node throughput), then the cluster scores the same readings while one member is killed
/// with SIGKILL (or all are restarted one by one). Last line: one JSON object with failover_seconds,
/// lost, exact_state, ratio_to_single_node, readings and sensors. Exits with 1 unless the cluster
/// ended in the reference's exact state with the same alert ids. Readings are produced while the
/// members score them; --rate paces the cluster run's production (so a rolling restart happens
/// with readings still arriving). --keep-logs writes every member's whole output there.
/// </summary>
internal static class ClusterHarness
{
    public static int Run(string[] argv)
    {
        var args = new HarnessArgs(argv);
        var disruptions = new Dictionary<string, ClusterDisruption>
        {
            ["kill"] = ClusterDisruption.Kill,
            ["rolling-restart"] = ClusterDisruption.RollingRestart,
            ["kill-and-restart"] = ClusterDisruption.KillAndRestart,
            ["partition"] = ClusterDisruption.Partition,
        };
        var sources = new Dictionary<string, ClusterSource>
        {
            ["kafka"] = ClusterSource.Kafka,
            ["mqtt-singleton"] = ClusterSource.MqttSingleton,
            ["mqtt-shared"] = ClusterSource.MqttShared,
        };
        var disruption = args.Get("disruption") ?? "kill";
        var source = args.Get("source") ?? "kafka";
        if (!disruptions.ContainsKey(disruption) || !sources.ContainsKey(source))
        {
            Console.Error.WriteLine($"--disruption must be {string.Join(", ", disruptions.Keys)}; --source {string.Join(", ", sources.Keys)}.");
            return 2;
        }

        var options = new ClusterOptions(
            args.GetInt("nodes") ?? 3,
            args.GetInt("sensors") ?? 10_000,
            args.GetInt("readings-per-sensor") ?? 150,
            disruptions[disruption],
            args.Get("postgres"),
            args.GetInt("partitions") ?? 64,
            Timeout: TimeSpan.FromSeconds(args.GetInt("timeout") ?? 1200),
            KeepLogs: args.Get("keep-logs"),
            ProduceRate: args.GetInt("rate") ?? 0,
            RestartDelay: args.GetInt("restart-delay") is { } delay ? TimeSpan.FromSeconds(delay) : null,
            Source: sources[source],
            Archive: args.Get("archive") is not null,
            Notifications: args.Get("notifications") is not null,
            ResultPartitions: args.GetInt("result-partitions"));
        if (options.Members < 2 || options.Sensors < 1 || options.ReadingsPerSensor < 1 || options.Partitions < 1)
        {
            Console.Error.WriteLine("--nodes must be 2 or more; --sensors, --readings-per-sensor and --partitions positive.");
            return 2;
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"cluster: {options.Members} members, {options.Sensors:N0} sensors x {options.ReadingsPerSensor} readings over {options.Partitions} partitions, disruption {disruption}, source {source}"));
        var report = ClusterScenario.RunAsync(options, Console.WriteLine).GetAwaiter().GetResult();
        Console.WriteLine(report.ToJson());
        return report.Passed ? 0 : 1;
    }
}
