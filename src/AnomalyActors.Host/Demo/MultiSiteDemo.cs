using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Akka.Configuration;
using AnomalyActors.Core.Configuration;
using AnomalyActors.Kafka.Embedded;
using AnomalyActors.Mqtt;
using AnomalyActors.Mqtt.Simulation;

namespace AnomalyActors.Host.Demo;

/// <param name="Sites">Sites dc1, dc2, ...: each with its own Kafka, its own node and simulated devices.</param>
/// <param name="DevicesPerSite">Simulated devices publishing to each site's embedded MQTT broker.</param>
/// <param name="Rate">Readings per second per device.</param>
/// <param name="WebPort">The global dashboard's port (the sites' dashboards take any free port).</param>
public sealed record DemoOptions(int Sites, int DevicesPerSite, double Rate, string WorkDirectory, int WebPort);

/// <summary>One site of the demo: its Kafka, its node, its devices.</summary>
public sealed record DemoSite(string Name, EmbeddedKafka Kafka, AnomalyHost Node);

/// <summary>
/// The whole multi-site layout on one machine: N sites, each with its own embedded Kafka (librdkafka's
/// mock cluster, in memory), its own node (MQTT bridged to the site's Kafka, results to its topics)
/// and simulated devices, and a global layer with its own Kafka that links every site and shows all
/// their alerts. Each site's stream keys start with its name, so alert ids never collide globally.
/// </summary>
public sealed class MultiSiteDemo : IAsyncDisposable
{
    private readonly EmbeddedKafka _globalKafka;
    private readonly CancellationTokenSource _stopDevices = new();
    private readonly List<Task<SimulationResult>> _devices = [];

    private MultiSiteDemo(EmbeddedKafka globalKafka, IReadOnlyList<DemoSite> sites, GlobalHost global)
    {
        _globalKafka = globalKafka;
        Sites = sites;
        Global = global;
    }

    public IReadOnlyList<DemoSite> Sites { get; }

    public GlobalHost Global { get; }

    public static async Task<MultiSiteDemo> StartAsync(DemoOptions options, Action<string> report)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Sites, 1);
        var names = Enumerable.Range(1, options.Sites).Select(i => $"dc{i}").ToList();
        var globalKafka = StartGlobalKafka(names);
        var sites = new List<DemoSite>();
        GlobalHost? global = null;
        try
        {
            foreach (var name in names)
            {
                sites.Add(await StartSiteAsync(name, Path.Combine(options.WorkDirectory, name), report).ConfigureAwait(false));
            }

            global = await GlobalHost.StartAsync(ConfigurationFactory.ParseString(string.Join(Environment.NewLine,
                [
                    $"anomaly-actors.data-dir = {HoconText.Quote(Path.Combine(options.WorkDirectory, "global"))}",
                    $"anomaly-actors.web.port = {options.WebPort}",
                    "akka.loglevel = WARNING",
                    .. GlobalConfig(sites, globalKafka.BootstrapServers),
                ])), report: report).ConfigureAwait(false);
        }
        catch
        {
            await StopAsync(sites, global).ConfigureAwait(false);
            globalKafka.Dispose();
            throw;
        }

        var demo = new MultiSiteDemo(globalKafka, sites, global);
        foreach (var site in sites)
        {
            demo._devices.Add(Devices(site, options.DevicesPerSite, options.Rate, report).RunAsync(demo._stopDevices.Token));
        }

        return demo;
    }

    /// <summary>The global Kafka (in memory) with the replication topics and each site's copied alerts topic.</summary>
    public static EmbeddedKafka StartGlobalKafka(IEnumerable<string> siteNames)
    {
        var kafka = new EmbeddedKafka(brokers: 1);
        kafka.CreateTopic("anomaly-actors.replication-offsets", 2);
        kafka.CreateTopic("anomaly-actors.replication-status", 1);
        foreach (var name in siteNames)
        {
            kafka.CreateTopic($"{name}.alerts", 4);
        }

        return kafka;
    }

    /// <summary>One whole site: its Kafka (in memory) and its node, MQTT bridged to that Kafka, results to its topics.</summary>
    /// <param name="brokerPorts">Ports for the site's MQTT broker to try in turn (default: one found free each time).</param>
    public static async Task<DemoSite> StartSiteAsync(string name, string dataDirectory, Action<string> report, Func<int>? brokerPorts = null)
    {
        var kafka = new EmbeddedKafka(brokers: 1);
        kafka.CreateTopic("readings", 4);
        kafka.CreateTopic("alerts", 4);
        kafka.CreateTopic("dead-letters", 1);
        try
        {
            var node = await StartNodeAsync(brokerPorts ?? FreePort, port => AnomalyHost.StartAsync(ConfigurationFactory.ParseString(string.Join(Environment.NewLine,
                $"anomaly-actors.data-dir = {HoconText.Quote(dataDirectory)}",
                $"anomaly-actors.site = {name}",
                "anomaly-actors.alerts.console = off",
                "anomaly-actors.kafka.enabled = on",
                "anomaly-actors.kafka.bridge-mqtt = on",
                $"anomaly-actors.kafka.bootstrap-servers = {HoconText.Quote(kafka.BootstrapServers)}",
                $"anomaly-actors.kafka.group-id = {name}",
                "anomaly-actors.kafka.readings-topic = readings",
                "anomaly-actors.kafka.enriched-topic = \"\"",
                "anomaly-actors.kafka.alerts-topic = alerts",
                "anomaly-actors.kafka.dead-letters-topic = dead-letters",
                $"anomaly-actors.mqtt.broker.port = {port}",
                "anomaly-actors.web.port = 0",
                // The demo prints its own lines; Akka's informational ones would drown them.
                "akka.loglevel = WARNING",
                "akka.remote.dot-netty.tcp.port = 0")), systemName: $"anomaly-actors-{name}", report: report)).ConfigureAwait(false);
            return new DemoSite(name, kafka, node);
        }
        catch
        {
            kafka.Dispose();
            throw;
        }
    }

    /// <summary>The global layer's configuration for these sites (links every site's alerts topic; heartbeat every second).</summary>
    public static IReadOnlyList<string> GlobalConfig(IEnumerable<DemoSite> sites, string globalBootstrap) =>
    [
        $"anomaly-actors.global.bootstrap-servers = {HoconText.Quote(globalBootstrap)}",
        "anomaly-actors.global.heartbeat-interval = 1s",
        $"anomaly-actors.global.sites = [ {string.Join(", ", sites.Select(s => $"{{ name = {s.Name}, bootstrap-servers = {HoconText.Quote(s.Kafka.BootstrapServers)}, alerts-topic = alerts }}"))} ]",
    ];

    /// <summary>Simulated devices publishing under the site's name to its node's embedded MQTT broker (1% of readings are spikes).</summary>
    public static DeviceSimulator Devices(DemoSite site, int devices, double rate, Action<string> report)
    {
        var sub = site.Node.Settings.Mqtt.Subscriber;
        return new DeviceSimulator(new SimulatorOptions(
            "127.0.0.1", site.Node.Settings.Mqtt.Broker.Port, sub.Username, sub.Password, DeviceKind.Demo, devices, 1, rate,
            Seed: site.Name.Aggregate(17, (hash, c) => unchecked((hash * 31) + c)), SiteNames: [site.Name]), report);
    }

    /// <summary>Alerts each site raised, and how many of them the global board shows.</summary>
    public string Describe()
    {
        var line = string.Join(" | ", Sites.Select(s => string.Create(CultureInfo.InvariantCulture,
            $"{s.Name}: {s.Node.Node.Metrics.ReadingsScored:N0} readings, {s.Node.Node.Metrics.EpisodesOpened:N0} alerts")));
        var links = string.Join(", ", Global.Links.Select(l => string.Create(CultureInfo.InvariantCulture,
            $"{l.Site} {(l.Reachable ? string.Empty : "UNREACHABLE, ")}{l.LagRecords:N0} behind")));
        return string.Create(CultureInfo.InvariantCulture, $"{line} || global view: {Global.Board.Count:N0} alerts ({links})");
    }

    /// <summary>Whether the global board shows every alert the sites raised (as many as it holds).</summary>
    public bool GlobalCaughtUp =>
        Global.Links.All(l => l.Reachable && l.LagRecords == 0)
        && Global.Board.Count == Math.Min(Global.Settings.Web.RecentAlerts, Sites.Sum(s => s.Node.Node.Metrics.EpisodesOpened));

    /// <summary>Stops the devices (what they published is still scored and copied).</summary>
    public async Task StopDevicesAsync()
    {
        await _stopDevices.CancelAsync().ConfigureAwait(false);
        foreach (var devices in _devices)
        {
            try
            {
                await devices.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopDevicesAsync().ConfigureAwait(false);
        await StopAsync(Sites, Global).ConfigureAwait(false);
        _globalKafka.Dispose();
        _stopDevices.Dispose();
    }

    private static async Task StopAsync(IReadOnlyList<DemoSite> sites, GlobalHost? global)
    {
        if (global is not null)
        {
            await global.DisposeAsync().ConfigureAwait(false);
        }

        foreach (var site in sites)
        {
            await site.Node.DisposeAsync().ConfigureAwait(false);
            site.Kafka.Dispose();
        }
    }

    /// <summary>
    /// Starts a site's node with its broker on a port that was free a moment before. Another program
    /// can take such a port before the broker binds it (the OS hands ports of that range to any
    /// outgoing connection), so a port found taken is replaced by another a few times.
    /// </summary>
    private static async Task<AnomalyHost> StartNodeAsync(Func<int> ports, Func<int, Task<AnomalyHost>> start)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await start(ports()).ConfigureAwait(false);
            }
            catch (ConfigurationException e) when (attempt < 5
                && e.InnerException is ListenerBindException { InnerException: SocketException { SocketErrorCode: SocketError.AddressAlreadyInUse } })
            {
            }
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
