using System.Globalization;
using AnomalyActors.Host;
using AnomalyActors.Mqtt.Simulation;

namespace AnomalyActors.Cli;

/// <summary><c>run</c>: a node with its embedded broker, optionally with simulated devices, until Ctrl+C.</summary>
internal static class RunCommand
{
    public static readonly CommandSpec Spec = new(
        "run",
        "Start a node: embedded MQTT broker, durable intake (SQLite in ./data), sensors, alerts on the console.",
        null,
        null,
        [
            new("simulate", "N", "Also run N simulated devices (values 10-20, 1% spikes of 100-120) publishing to the node's broker."),
            new("kind", "demo|fan", "Simulated device kind (default demo; fan = FREQ/RPM with stalls)."),
            new("sites", "S", "Spread the simulated devices over S sites (default 1)."),
            new("rate", "R", "Readings per second per simulated device (default 10)."),
            new("mqtt-port", "PORT", "Port of the embedded broker and the subscriber (default from the config: 1883)."),
            new("no-mqtt", null, "Do not start the broker or the subscriber."),
            new("web-port", "PORT", "Port of the dashboard, its API and /metrics (default from the config: 8686; 0 = any free port)."),
            new("no-web", null, "Do not start the dashboard."),
            new("duration", "SECONDS", "Stop by itself after this long (default: run until Ctrl+C)."),
            new("status-every", "SECONDS", "Print a status line this often (default 10; 0 = never)."),
            new("role", "site|global", "site (default): a node of a site. global: the global layer, copying every site of anomaly-actors.global.sites to the global Kafka and showing all their alerts."),
            .. NodeOptions.Specs,
        ]);

    public static async Task<int> ExecuteAsync(ParsedArguments args, CancellationToken stopping)
    {
        if (args.Choice("role", "site", new Dictionary<string, string> { ["site"] = "site", ["global"] = "global" }) == "global")
        {
            return await RunGlobalAsync(args, stopping);
        }

        var simulate = args.Int("simulate", 0, minimum: 0, maximum: 100_000);
        var kind = args.Choice("kind", DeviceKind.Demo, new Dictionary<string, DeviceKind> { ["demo"] = DeviceKind.Demo, ["fan"] = DeviceKind.Fan });
        var sites = args.Int("sites", 1, minimum: 1);
        var rate = args.Double("rate", 10, minimum: 0.001);
        var duration = args.Double("duration", 0);
        var statusEvery = args.Double("status-every", 10);
        var extra = new List<string>();
        if (args.Text("mqtt-port") is not null)
        {
            var port = args.Int("mqtt-port", 1883, minimum: 1, maximum: 65535);
            extra.Add($"anomaly-actors.mqtt.broker.port = {port}");
            extra.Add($"anomaly-actors.mqtt.subscriber.port = {port}");
        }

        if (args.Text("web-port") is not null)
        {
            extra.Add($"anomaly-actors.web.port = {args.Int("web-port", 8686, minimum: 0, maximum: 65535)}");
        }

        if (args.Flag("no-web"))
        {
            extra.Add("anomaly-actors.web.enabled = off");
        }

        if (args.Flag("no-mqtt"))
        {
            if (simulate > 0)
            {
                throw new UsageException("--simulate needs MQTT; drop --no-mqtt");
            }

            extra.Add("anomaly-actors.mqtt.enabled = off");
        }

        var (overrides, hocon) = NodeOptions.From(args, [.. extra]);
        await using var host = await AnomalyHost.StartAsync(overrides, hocon, report: Console.WriteLine);
        var settings = host.Node.Settings;
        Console.WriteLine($"AnomalyActors node up: data in {settings.DataDirectory} ({settings.Persistence.Provider}), alerts in {settings.Alerts.FilePath ?? "(console only)"}");
        if (settings.Cluster.Clustered)
        {
            Console.WriteLine($"Cluster member {Akka.Cluster.Cluster.Get(host.Node.System).SelfAddress}, seeds {string.Join(", ", settings.Cluster.Seeds)}");
            host.Node.ReportMembership(Console.WriteLine);
        }
        if (host.Broker is not null)
        {
            var broker = host.Settings.Mqtt.Broker;
            Console.WriteLine($"MQTT: embedded broker on {broker.Host}:{broker.Port}, ingesting topic filter '{host.Settings.Mqtt.Subscriber.TopicFilter}' (QoS 1/2 acknowledged once durable)");
        }
        else if (host.MqttIngestion is not null)
        {
            var sub = host.MqttIngestion.Subscriber.Settings;
            Console.WriteLine($"MQTT: external broker {sub.Host}:{sub.Port}, topic filter '{sub.TopicFilter}', QoS {(int)sub.Qos}, client '{sub.ClientId}'");
        }
        else if (host.SiteSubscriber is not null)
        {
            var sub = host.Settings.Mqtt.Subscriber;
            Console.WriteLine($"MQTT: external broker {sub.Host}:{sub.Port}, topic filter '{sub.TopicFilter}', QoS {(int)sub.Qos}, one member of the cluster at a time as client '{sub.ClientId}'");
        }

        if (host.Dashboard is not null)
        {
            Console.WriteLine($"Dashboard: {host.Dashboard.Address} (JSON API under /api, Prometheus metrics at /metrics{(host.Settings.Web.Token is null ? string.Empty : "; token required")})");
        }

        if (host.Kafka is not null)
        {
            var kafka = host.Settings.Kafka;
            Console.WriteLine($"Kafka: consuming '{kafka.ReadingsTopic}' from {kafka.BootstrapServers} in group '{kafka.GroupId}'");
        }

        Console.WriteLine("Ctrl+C stops the node gracefully.");

        using var runFor = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        if (duration > 0)
        {
            runFor.CancelAfter(TimeSpan.FromSeconds(duration));
        }

        // The node's actor system stops by itself when the cluster downs this member (the split brain
        // resolver on the minority side of a network partition, or a member removed while it was
        // stalled). It cannot come back under the same incarnation, so the process ends and its
        // supervisor starts a new one, which joins as a new member.
        var terminated = host.Node.System.WhenTerminated;
        _ = terminated.ContinueWith(_ => runFor.Cancel(), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);

        Task<SimulationResult>? simulation = null;
        if (simulate > 0)
        {
            var sub = host.Settings.Mqtt.Subscriber;
            var simulator = new DeviceSimulator(
                new SimulatorOptions(sub.Host, sub.Port, sub.Username, sub.Password, kind, simulate, sites, rate,
                    Tls: sub.Tls, AllowUntrustedCertificates: sub.AllowUntrustedCertificates),
                message => Console.Error.WriteLine(message));
            Console.WriteLine($"Simulating {simulate} {kind.ToString().ToLowerInvariant()} device(s) on {sites} site(s) at {rate.ToString(CultureInfo.InvariantCulture)} readings/s each.");
            simulation = simulator.RunAsync(runFor.Token);
        }

        var started = DateTime.UtcNow;
        try
        {
            while (!runFor.IsCancellationRequested)
            {
                await Task.Delay(statusEvery > 0 ? TimeSpan.FromSeconds(statusEvery) : Timeout.InfiniteTimeSpan, runFor.Token);
                Console.WriteLine(await StatusAsync(host, DateTime.UtcNow - started));
            }
        }
        catch (OperationCanceledException)
        {
        }

        if (terminated.IsCompleted && !stopping.IsCancellationRequested)
        {
            Console.WriteLine("Cluster: this member's node stopped because the cluster removed it (downed); exiting so that it can be started again as a new member.");
            await host.StopAsync();
            return ExitCodes.Failure;
        }

        if (simulation is not null)
        {
            var result = await simulation;
            Console.WriteLine($"Simulator: {result.Published:N0} readings published, {result.Anomalies.Count:N0} made anomalous, {result.Failed:N0} failed, {result.Resent:N0} sent again.");
        }

        Console.WriteLine(await StatusAsync(host, DateTime.UtcNow - started));
        Console.WriteLine("Stopping: sources, then sensors (final snapshots), then the broker...");
        await host.StopAsync();
        Console.WriteLine("Stopped.");
        return ExitCodes.Ok;
    }

    /// <summary>The global layer until Ctrl+C (or the duration): links to every configured site and the dashboard of all of them.</summary>
    private static async Task<int> RunGlobalAsync(ParsedArguments args, CancellationToken stopping)
    {
        foreach (var siteOnly in new[] { "simulate", "mqtt-port", "persistence", "archive" })
        {
            if (args.Text(siteOnly) is not null)
            {
                throw new UsageException($"--{siteOnly} is for a site's node, not for --role global");
            }
        }

        var duration = args.Double("duration", 0);
        var statusEvery = args.Double("status-every", 10);
        var extra = new List<string>();
        if (args.Text("web-port") is not null)
        {
            extra.Add($"anomaly-actors.web.port = {args.Int("web-port", 8686, minimum: 0, maximum: 65535)}");
        }

        if (args.Flag("no-web"))
        {
            extra.Add("anomaly-actors.web.enabled = off");
        }

        var (overrides, hocon) = NodeOptions.From(args, [.. extra]);
        await using var global = await GlobalHost.StartAsync(overrides, hocon, message => Console.WriteLine($"global: {message}"));
        var settings = global.Settings.Global;
        Console.WriteLine($"AnomalyActors global layer up: {settings.Sites.Count} site(s) ({string.Join(", ", settings.Sites.Select(s => s.Name))}) copied to {settings.BootstrapServers}");
        if (global.Dashboard is not null)
        {
            Console.WriteLine($"Dashboard: {global.Dashboard.Address} (every site's alerts and each link's health; JSON API under /api, Prometheus metrics at /metrics)");
        }

        Console.WriteLine("Ctrl+C stops it.");
        using var runFor = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        if (duration > 0)
        {
            runFor.CancelAfter(TimeSpan.FromSeconds(duration));
        }

        var started = DateTime.UtcNow;
        try
        {
            while (!runFor.IsCancellationRequested)
            {
                await Task.Delay(statusEvery > 0 ? TimeSpan.FromSeconds(statusEvery) : Timeout.InfiniteTimeSpan, runFor.Token);
                Console.WriteLine(GlobalStatus(global, DateTime.UtcNow - started));
            }
        }
        catch (OperationCanceledException)
        {
        }

        Console.WriteLine(GlobalStatus(global, DateTime.UtcNow - started));
        return ExitCodes.Ok;
    }

    private static string GlobalStatus(GlobalHost global, TimeSpan elapsed) =>
        string.Create(CultureInfo.InvariantCulture, $"[{elapsed:hh\\:mm\\:ss}] {global.Board.Count:N0} alerts on the board; ")
        + string.Join("; ", global.Links.Select(l => string.Create(CultureInfo.InvariantCulture,
            $"{l.Site}: {(l.Reachable ? "reachable" : "UNREACHABLE")}, {l.LagRecords:N0} records behind ({l.LagSeconds:0} s), {l.Replicated:N0} copied{(l.LostRecords > 0 ? $", {l.LostRecords:N0} LOST" : string.Empty)}")));

    /// <summary>This run's counts, then the totals since the data directory was created (what an operator checking for loss compares).</summary>
    private static async Task<string> StatusAsync(AnomalyHost host, TimeSpan elapsed)
    {
        var metrics = host.Node.Metrics;
        var ingest = host.MqttCounters;
        var line = string.Create(CultureInfo.InvariantCulture,
            $"[{elapsed:hh\\:mm\\:ss}] {metrics.ReadingsScored:N0} readings scored, {metrics.EpisodesOpened:N0} episodes opened / {metrics.EpisodesClosed:N0} closed");
        line = ingest is null ? line : $"{line}; MQTT {ingest}";
        if (host.Kafka is not null)
        {
            var kafka = host.KafkaMetrics;
            line = string.Create(CultureInfo.InvariantCulture,
                $"{line}; Kafka: {kafka.AssignedPartitions} partitions assigned, {kafka.MessagesConsumed:N0} messages consumed, {kafka.CommitsDone:N0} commits");
        }

        if (host.CurrentModel?.Model is { } model)
        {
            line = string.Create(CultureInfo.InvariantCulture, $"{line}; model {model.Version} in use, {metrics.ModelAdoptions:N0} adoptions by streams this run");
        }

        if (metrics.RedeliveredReadingsSkipped + metrics.ResentReadingsStored > 0)
        {
            line = string.Create(CultureInfo.InvariantCulture,
                $"{line}; resent by the source: {metrics.RedeliveredReadingsSkipped:N0} readings already stored (skipped), {metrics.ResentReadingsStored:N0} new");
        }
        try
        {
            var totals = await host.Node.TotalsAsync();
            line = string.Create(CultureInfo.InvariantCulture,
                $"{line}\n           since {host.Node.Settings.DataDirectory} was created: {totals.ReadingsStored:N0} readings stored, {totals.AlertLines:N0} alert lines, {totals.DeadLetters:N0} dead letters");
            if (host.Node.Settings.Cluster.Clustered)
            {
                var view = await host.Node.ClusterViewAsync();
                line = string.Create(CultureInfo.InvariantCulture,
                    $"{line}\n           cluster: {view.Describe()}; intake: {totals.SensorsBehind:N0} sensors behind, {totals.ReadingsRetained:N0} readings retained");
            }

            return line;
        }
        catch (Akka.Actor.AskTimeoutException)
        {
            return line;
        }
    }
}
