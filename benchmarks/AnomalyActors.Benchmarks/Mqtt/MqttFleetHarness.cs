using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Akka.Actor;
using Akka.Configuration;
using AnomalyActors.Benchmarks.Common;
using AnomalyActors.Benchmarks.Nab;
using AnomalyActors.Core.Events;
using AnomalyActors.Core.Results;
using AnomalyActors.Host;
using AnomalyActors.Mqtt.Simulation;
using AnomalyActors.Testing;

namespace AnomalyActors.Benchmarks.Mqtt;

/// <summary>
/// <c>mqtt --per-device-connections [--devices 10000] [--rate 1] [--duration 90] [--spread] [--hocon TEXT]</c>: a node
/// with the shipped configuration and its embedded broker, and that many devices, each an account of
/// its own (role device) on a connection of its own, publishing the Kinesis demo sensor's readings at
/// --rate per second each (QoS 1), as <c>anomaly-actors simulate --per-device-connections</c> does: all
/// of them at the start of each period (a burst), or with --spread evenly over it.
/// Every reading carries the time it was published; an alert's latency is from that time to the
/// alert written by the node's results sink (the AlertDelivered event). Lost: readings the broker
/// acknowledged that were never scored. The devices run in a process of their own, beside the node,
/// on the same cores. Last line: one JSON object.
/// </summary>
internal static class MqttFleetHarness
{
    public static int Run(HarnessArgs args)
    {
        var devices = args.GetInt("devices") ?? 10_000;
        var rate = args.GetDouble("rate") ?? 1;
        var duration = args.GetInt("duration") ?? 90;
        var hocon = args.Get("hocon") ?? string.Empty;
        var spread = args.Get("spread") is not null;
        if (devices < 1 || rate <= 0 || duration < 1)
        {
            Console.Error.WriteLine("--devices, --rate and --duration must be positive.");
            return 2;
        }

        return RunAsync(devices, rate, duration, spread, hocon).GetAwaiter().GetResult();
    }

    private static async Task<int> RunAsync(int devices, double rate, int duration, bool spread, string hocon)
    {
        var dataDirectory = ScratchDirectory.Create("anomaly-actors-bench-fleet-mqtt");
        try
        {
            var password = "device-" + Guid.NewGuid().ToString("N");
            var port = FreePort.Next();
            var config = NodeConfig(devices, port, password, dataDirectory, hocon);
            await using var host = await AnomalyHost.StartAsync(config, systemName: "bench-mqtt-fleet");
            var alerts = new AlertLatencies();
            var listener = host.Node.System.ActorOf(Props.Create(() => new AlertListener(alerts)), "bench-alert-latency");
            host.Node.System.EventStream.Subscribe(listener, typeof(AlertDelivered));

            var rounds = (long)Math.Ceiling(duration * rate);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"mqtt fleet: {devices:N0} devices, each on its own connection, {rate} readings/s each {(spread ? "spread over each second" : "in one burst per second")} for {duration} s ({devices * rounds:N0} readings), QoS 1, embedded broker on port {port}"));
            var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
            var start = Stopwatch.GetTimestamp();
            using var progressStop = new CancellationTokenSource();
            var progress = ReportAsync(host, alerts, start, progressStop.Token);
            // The devices are `anomaly-actors simulate --per-device-connections` in a process of their
            // own (as users run it): 10,000 connections have both ends in one process otherwise, twice
            // the descriptors a process may open here. Anomalies start once the demo detector's alarms
            // are armed (alarm-after 40), so that every injected one can raise an alert within the run.
            using var simulator = CliProcess.Start(dataDirectory, [
                "simulate", "--host", "127.0.0.1", "--port", port.ToString(CultureInfo.InvariantCulture), "--password", password,
                "--per-device-connections", "--devices", devices.ToString(CultureInfo.InvariantCulture),
                "--rate", rate.ToString(CultureInfo.InvariantCulture), "--count", rounds.ToString(CultureInfo.InvariantCulture),
                "--qos", "1", "--max-in-flight", "100", "--warm-up", "41", .. (spread ? new[] { "--spread" } : Array.Empty<string>())]);
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(duration * 3 + 300));
            await simulator.Process.WaitForExitAsync(timeout.Token);
            var summary = Regex.Match(simulator.Output, @"Published ([\d,]+) readings .*?, ([\d,]+) made anomalous, ([\d,]+) failed");
            if (!summary.Success)
            {
                Console.Error.WriteLine("simulate did not report its publishes (exit code " + simulator.Process.ExitCode + "):\n" + simulator.Output);
                return 1;
            }

            var published = long.Parse(summary.Groups[1].Value, NumberStyles.AllowThousands, CultureInfo.InvariantCulture);
            var injected = long.Parse(summary.Groups[2].Value, NumberStyles.AllowThousands, CultureInfo.InvariantCulture);
            var failed = long.Parse(summary.Groups[3].Value, NumberStyles.AllowThousands, CultureInfo.InvariantCulture);
            var elapsed = Stopwatch.GetElapsedTime(start);
            var metrics = host.Node.Metrics;
            var deadline = Stopwatch.GetTimestamp() + Stopwatch.Frequency * 60;
            while (metrics.ReadingsScored < published && Stopwatch.GetTimestamp() < deadline)
            {
                await Task.Delay(100);
            }

            await Task.Delay(500);
            await progressStop.CancelAsync();
            await progress;
            var cpu = Process.GetCurrentProcess().TotalProcessorTime - cpuBefore;
            var latencies = alerts.Snapshot();
            var lost = Math.Max(0, published - metrics.ReadingsScored);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"mqtt fleet: {published:N0} acknowledged, {failed:N0} failed, {metrics.ReadingsScored:N0} scored, {lost:N0} lost; {latencies.Length:N0} alerts for {injected:N0} injected anomalies; " +
                $"publish to alert p50 {Percentile(latencies, 0.5):0} ms, p99 {Percentile(latencies, 0.99):0} ms, max {(latencies.Length > 0 ? latencies[^1] : 0):0} ms; {cpu.TotalSeconds:0.0} s CPU in the node's process"));
            var json = new Dictionary<string, object?>
            {
                ["mode"] = "mqtt-per-device-connections",
                ["devices"] = devices,
                ["rate_per_device"] = rate,
                ["spread"] = spread,
                ["duration_s"] = duration,
                ["published"] = published,
                ["failed"] = failed,
                ["scored"] = metrics.ReadingsScored,
                ["lost"] = lost,
                ["injected_anomalies"] = injected,
                ["alerts"] = latencies.Length,
                ["p50_publish_to_alert_ms"] = Math.Round(Percentile(latencies, 0.5), 1),
                ["p95_publish_to_alert_ms"] = Math.Round(Percentile(latencies, 0.95), 1),
                ["p99_publish_to_alert_ms"] = Math.Round(Percentile(latencies, 0.99), 1),
                ["max_publish_to_alert_ms"] = latencies.Length > 0 ? latencies[^1] : 0,
                ["elapsed_s"] = Math.Round(elapsed.TotalSeconds, 1),
                ["node_cpu_s"] = Math.Round(cpu.TotalSeconds, 1),
                ["peak_working_set_mb"] = Math.Round(Process.GetCurrentProcess().PeakWorkingSet64 / 1048576.0, 1),
                ["hocon"] = hocon.Length > 0 ? hocon : null,
            };
            await host.StopAsync();
            Console.WriteLine(JsonSerializer.Serialize(json));
            return lost == 0 && failed == 0 ? 0 : 1;
        }
        finally
        {
            ScratchDirectory.DeleteQuietly(dataDirectory);
        }
    }

    private static async Task ReportAsync(AnomalyHost host, AlertLatencies alerts, long start, CancellationToken stop)
    {
        try
        {
            while (true)
            {
                await Task.Delay(TimeSpan.FromSeconds(10), stop);
                var latencies = alerts.Snapshot();
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  {Stopwatch.GetElapsedTime(start).TotalSeconds,5:0} s: {host.Node.Metrics.ReadingsScored,10:N0} scored, {latencies.Length:N0} alerts, p99 so far {Percentile(latencies, 0.99):0} ms"));
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private static double Percentile(long[] sorted, double q) => Percentiles.NearestRank(sorted, q, empty: 0);

    private static Config NodeConfig(int devices, int port, string password, string dataDirectory, string hocon)
    {
        var users = new StringBuilder();
        for (var i = 0; i < devices; i++)
        {
            users.Append(CultureInfo.InvariantCulture, $"{{ username = \"{DeviceSimulator.DeviceName(i)}\", password = \"{password}\", role = device }}\n");
        }

        var overrides = ConfigurationFactory.ParseString($$"""
            anomaly-actors {
              data-dir = "{{dataDirectory.Replace("\\", "/", StringComparison.Ordinal)}}"
              alerts.console = off
              web.port = 0
              mqtt {
                broker.port = {{port}}
                broker.users = [
            {{users}}
                ]
                subscriber.port = {{port}}
              }
            }
            akka.loglevel = WARNING
            """);
        return string.IsNullOrWhiteSpace(hocon) ? overrides : ConfigurationFactory.ParseString(hocon).WithFallback(overrides);
    }

    /// <summary>Milliseconds from each opened episode's reading (its published time) to its alert written.</summary>
    private sealed class AlertLatencies
    {
        private readonly List<long> _values = [];

        public void Add(long milliseconds)
        {
            lock (_values)
            {
                _values.Add(milliseconds);
            }
        }

        public long[] Snapshot()
        {
            lock (_values)
            {
                var copy = _values.ToArray();
                Array.Sort(copy);
                return copy;
            }
        }
    }

    private sealed class AlertListener : ReceiveActor
    {
        private readonly HashSet<string> _seen = new(StringComparer.Ordinal);

        public AlertListener(AlertLatencies latencies)
        {
            Receive<AlertDelivered>(delivered =>
            {
                // A repeated alert (same id, after a retry) counts once, at its first delivery.
                if (delivered.Alert is EpisodeOpened opened && _seen.Add(opened.AlertId))
                {
                    latencies.Add(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - opened.TimestampMs);
                }
            });
        }
    }
}
