using BenchmarkDotNet.Running;

namespace AnomalyActors.Benchmarks;

public static class Program
{
    /// <summary>
    /// Harness modes (end-to-end measurements printing one JSON line) come first; anything else goes
    /// to BenchmarkDotNet's switcher, e.g. <c>--filter *Detector*</c>.
    /// </summary>
    public static int Main(string[] args)
    {
        if (args.Length > 0 && HarnessModes.TryGetValue(args[0], out var mode))
        {
            return mode(args[1..]);
        }

        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
        return 0;
    }

    private static readonly Dictionary<string, Func<string[], int>> HarnessModes = new(StringComparer.Ordinal)
    {
        ["throughput"] = Throughput.ThroughputHarness.Run,
        ["nab"] = Nab.NabHarness.Run,
        ["rcf-agreement"] = Rcf.RcfAgreementHarness.Run,
        ["rcf-speed"] = Rcf.RcfSpeedHarness.Run,
        ["kafka"] = Kafka.KafkaHarness.Run,
        ["mqtt"] = Mqtt.MqttHarness.Run,
        ["crash"] = Crash.CrashHarness.Run,
        ["cluster"] = Cluster.ClusterHarness.Run,
        ["archive"] = Archive.ArchiveHarness.Run,
        ["multisite"] = MultiSite.MultiSiteHarness.Run,
        ["fleet"] = Fleet.FleetHarness.Run,
        ["global-model"] = GlobalModel.GlobalModelHarness.Run,
    };
}
