using System.Globalization;
using AnomalyActors.Benchmarks.Nab;
using AnomalyActors.CrashTesting;

namespace AnomalyActors.Benchmarks.Cluster;

/// <summary>
/// <c>cluster [--nodes 3] [--sensors 10000] [--readings-per-sensor 150] [--partitions 64]
/// [--disruption kill|rolling-restart] [--postgres CONNECTION] [--timeout SECONDS] [--keep-logs DIR] [--rate READINGS_PER_S]</c>: a site's
/// members as `anomaly-actors run` processes on one PostgreSQL (a private one unless --postgres)
/// and a Kafka mock cluster; one member alone scores the readings first (the reference and the
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
        var disruption = args.Get("disruption") ?? "kill";
        if (disruption is not ("kill" or "rolling-restart"))
        {
            Console.Error.WriteLine($"--disruption must be kill or rolling-restart, not '{disruption}'.");
            return 2;
        }

        var options = new ClusterOptions(
            args.GetInt("nodes") ?? 3,
            args.GetInt("sensors") ?? 10_000,
            args.GetInt("readings-per-sensor") ?? 150,
            disruption == "kill" ? ClusterDisruption.Kill : ClusterDisruption.RollingRestart,
            args.Get("postgres"),
            args.GetInt("partitions") ?? 64,
            Timeout: TimeSpan.FromSeconds(args.GetInt("timeout") ?? 1200),
            KeepLogs: args.Get("keep-logs"),
            ProduceRate: args.GetInt("rate") ?? 0);
        if (options.Members < 2 || options.Sensors < 1 || options.ReadingsPerSensor < 1 || options.Partitions < 1)
        {
            Console.Error.WriteLine("--nodes must be 2 or more; --sensors, --readings-per-sensor and --partitions positive.");
            return 2;
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"cluster: {options.Members} members, {options.Sensors:N0} sensors x {options.ReadingsPerSensor} readings over {options.Partitions} partitions, disruption {disruption}"));
        var report = ClusterScenario.RunAsync(options, Console.WriteLine).GetAwaiter().GetResult();
        Console.WriteLine(report.ToJson());
        return report.Passed ? 0 : 1;
    }
}
