using System.Globalization;
using AnomalyActors.Benchmarks.Nab;
using AnomalyActors.CrashTesting;
using AnomalyActors.Mqtt.Simulation;

namespace AnomalyActors.Benchmarks.Crash;

/// <summary>
/// <c>crash --broker mosquitto|embedded [--kills N] [--devices N] [--readings N] [--kind demo|fan]
/// [--in-flight N] [--timeout SECONDS]</c>: devices publish QoS 1 as fast as they can while the node
/// (the CLI, its own process) is killed with SIGKILL --kills times and restarted; then every stream's
/// scored readings are compared with what its device published. Last line: one JSON object with
/// published, scored, scored_twice, lost, anomalies_under_two_ids and kills. Exits with 1 unless
/// every reading was scored exactly once and every anomaly kept one alert id.
/// </summary>
internal static class CrashHarness
{
    public static int Run(string[] argv)
    {
        var args = new HarnessArgs(argv);
        var kind = args.Get("kind") ?? "demo";
        if (kind is not ("demo" or "fan"))
        {
            Console.Error.WriteLine($"--kind must be demo or fan, not '{kind}'.");
            return 2;
        }

        var options = new CrashOptions(
            args.Get("broker") ?? "mosquitto",
            args.GetInt("kills") ?? 2,
            args.GetInt("devices") ?? 20,
            args.GetInt("readings") ?? 15_000,
            kind == "fan" ? DeviceKind.Fan : DeviceKind.Demo,
            args.GetInt("in-flight") ?? 2000,
            TimeSpan.FromSeconds(args.GetInt("timeout") ?? 600));
        if (options.Broker is not ("embedded" or "mosquitto"))
        {
            Console.Error.WriteLine($"--broker must be embedded or mosquitto, not '{options.Broker}'.");
            return 2;
        }

        if (options.Kills < 0 || options.Devices < 1 || options.ReadingsPerDevice < 1 || options.MaxInFlight < 1)
        {
            Console.Error.WriteLine("--kills must be 0 or more; --devices, --readings and --in-flight positive.");
            return 2;
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"crash: broker {options.Broker}, {options.Devices} {kind} devices x {options.ReadingsPerDevice:N0} readings at full speed, QoS 1, {options.Kills} SIGKILLs"));
        var report = CrashScenario.RunAsync(options, Console.WriteLine).GetAwaiter().GetResult();
        Console.WriteLine(report.ToJson());
        return report.Exact ? 0 : 1;
    }
}
