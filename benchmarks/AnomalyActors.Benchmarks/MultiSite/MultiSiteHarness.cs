using System.Globalization;
using System.Text.Json;
using AnomalyActors.Benchmarks.Nab;
using AnomalyActors.CrashTesting;

namespace AnomalyActors.Benchmarks.MultiSite;

/// <summary>
/// <c>multisite [--sites 2] [--cut-seconds 30] [--steady-seconds 20] [--devices 10] [--rate 10] [--no-kill]</c>
/// (as root: the global layer runs in a network namespace): whole sites in this process, each its own
/// Kafka (in memory), node and simulated devices with spikes, and the global layer
/// (<c>run --role global</c>) as its own process behind a WAN this harness can cut. Uncut first
/// (every alert's way from its site to the global view), then dc1 cut off for --cut-seconds, healed,
/// and the global process SIGKILLed mid-stream and started again (unless --no-kill). Last line: one
/// JSON object with site_alerts_during_cut, alerts_missing_global, alerts_duplicated_global,
/// catch_up_seconds, p50_site_to_global_ms, p99_site_to_global_ms and more. Exits with 1 when an
/// alert is missing or doubled in the global view.
/// </summary>
internal static class MultiSiteHarness
{
    public static int Run(string[] argv)
    {
        var args = new HarnessArgs(argv);
        if (MultiSiteScenario.Unavailable is { } why)
        {
            Console.Error.WriteLine($"multisite needs network namespaces to cut one site's link: {why}");
            return 2;
        }

        var options = new MultiSiteOptions(
            args.GetInt("sites") ?? 2,
            args.GetInt("devices") ?? 10,
            args.GetDouble("rate") ?? 10,
            TimeSpan.FromSeconds(args.GetInt("steady-seconds") ?? 20),
            TimeSpan.FromSeconds(args.GetInt("cut-seconds") ?? 30),
            KillReplicator: args.Get("no-kill") is null,
            Timeout: TimeSpan.FromMinutes(15));
        if (options.Sites < 1 || options.DevicesPerSite < 1 || options.Rate <= 0 || options.CutTime <= TimeSpan.Zero)
        {
            Console.Error.WriteLine("--sites, --devices, --rate and --cut-seconds must be positive.");
            return 2;
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"multisite: {options.Sites} sites x {options.DevicesPerSite} devices at {options.Rate}/s, {options.SteadyTime.TotalSeconds:0} s uncut, dc1 cut for {options.CutTime.TotalSeconds:0} s{(options.KillReplicator ? ", then the global layer SIGKILLed" : string.Empty)}"));
        var result = MultiSiteScenario.RunAsync(options, Console.WriteLine).GetAwaiter().GetResult();
        var json = new Dictionary<string, object?>
        {
            ["sites"] = options.Sites,
            ["cut_seconds"] = options.CutTime.TotalSeconds,
            ["site_alerts_during_cut"] = result.SiteAlertsDuringCut.Values.Sum(),
            ["site_alerts_during_cut_by_site"] = result.SiteAlertsDuringCut,
            ["lagging_shown_during_cut"] = result.LaggingShownDuringCut,
            ["alerts_at_sites"] = result.AlertsAtSites,
            ["alerts_missing_global"] = result.AlertsMissingGlobal,
            ["alerts_duplicated_global"] = result.AlertsDuplicatedGlobal,
            ["repeated_copies_on_global_kafka"] = result.RepeatedCopies,
            ["catch_up_seconds"] = Math.Round(result.CatchUpSeconds, 2),
            ["latency_samples"] = result.LatencyMs.Count,
            ["p50_site_to_global_ms"] = Math.Round(result.Percentile(0.50), 1),
            ["p99_site_to_global_ms"] = Math.Round(result.Percentile(0.99), 1),
            ["max_site_to_global_ms"] = Math.Round(result.Percentile(1.0), 1),
            ["replicator_kill_to_caught_up_seconds"] = result.KillToCaughtUpSeconds is { } k ? Math.Round(k, 1) : null,
        };
        Console.WriteLine(JsonSerializer.Serialize(json));
        return result.AlertsMissingGlobal == 0 && result.AlertsDuplicatedGlobal == 0 ? 0 : 1;
    }
}
