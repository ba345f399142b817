using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Akka.Configuration;
using AnomalyActors.Core.Events;
using AnomalyActors.Core.Results;
using AnomalyActors.Host.Demo;
using AnomalyActors.Kafka.Testing;
using AnomalyActors.Testing;
using Confluent.Kafka;
using Xunit;

namespace AnomalyActors.Host.Tests;

/// <summary>
/// The global layer over two sites, each with its own Kafka (three mock clusters): every alert of
/// both sites shows once on the global dashboard, repeats included, with each link's health in the
/// operations panel and in /metrics.
/// </summary>
public sealed class GlobalHostSpecs : IDisposable
{
    private const int AlertsPerSite = 40;
    private readonly MockKafkaCluster _dc1 = new(brokers: 1);
    private readonly MockKafkaCluster _dc2 = new(brokers: 1);
    private readonly MockKafkaCluster _global = new(brokers: 1);

    public GlobalHostSpecs()
    {
        _dc1.CreateTopic("alerts", 4);
        _dc2.CreateTopic("alerts", 4);
        _global.CreateTopic("dc1.alerts", 4);
        _global.CreateTopic("dc2.alerts", 4);
        _global.CreateTopic("anomaly-actors.replication-offsets", 2);
        _global.CreateTopic("anomaly-actors.replication-status", 1);
    }

    public void Dispose()
    {
        _dc1.Dispose();
        _dc2.Dispose();
        _global.Dispose();
    }

    /// <summary>A site's alerts as its results sink writes them, then the first ten again (a sensor repeating its alerts after a crash).</summary>
    /// <param name="origin">The site the records say produced them (the site itself unless a link is misdirected).</param>
    private static async Task ProduceAlertsAsync(MockKafkaCluster site, string name, string? streamSite = null, string? origin = null)
    {
        using var producer = new ProducerBuilder<string, string>(new ProducerConfig { BootstrapServers = site.BootstrapServers }).Build();
        var alerts = Enumerable.Range(0, AlertsPerSite)
            .Select(i => new EpisodeOpened($"{streamSite ?? name}/device-{i}/temp", 1, i, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), 100 + i, 0.9))
            .ToList();
        foreach (var alert in alerts.Concat(alerts.Take(10)))
        {
            await producer.ProduceAsync("alerts", new Message<string, string> { Key = alert.SensorId, Value = ResultRecords.AlertJson(alert, origin ?? name) });
        }
    }

    [Fact]
    public async Task Should_show_every_alert_of_both_sites_once_with_each_links_health()
    {
        await ProduceAlertsAsync(_dc1, "dc1");
        await ProduceAlertsAsync(_dc2, "dc2");
        var config = ConfigurationFactory.ParseString($$"""
            anomaly-actors.data-dir = "{{HostFixture.NewDataDirectory()}}"
            anomaly-actors.web.port = 0
            anomaly-actors.global {
              bootstrap-servers = "{{_global.BootstrapServers}}"
              heartbeat-interval = 500ms
              sites = [
                { name = dc1, bootstrap-servers = "{{_dc1.BootstrapServers}}" }
                { name = dc2, bootstrap-servers = "{{_dc2.BootstrapServers}}", alerts-topic = "alerts" }
              ]
            }
            """);
        var warnings = new List<string>();
        await using var global = await GlobalHost.StartAsync(config, report: w =>
        {
            lock (warnings)
            {
                warnings.Add(w);
            }
        });
        using var client = new HttpClient { BaseAddress = global.Dashboard!.Address };

        JsonElement[] alerts = [];
        await HostFixture.AwaitAsync(
            () => (alerts = [.. client.GetFromJsonAsync<JsonElement>("/api/alerts?limit=1000").Result.GetProperty("alerts").EnumerateArray()]).Length >= 2 * AlertsPerSite,
            TimeSpan.FromSeconds(60),
            () => $"{alerts.Length} of {2 * AlertsPerSite} alerts on the global board; warnings: {string.Join(" | ", warnings)}");
        Assert.Equal(2 * AlertsPerSite, alerts.Length);
        Assert.Equal(2 * AlertsPerSite, alerts.Select(a => a.GetProperty("alertId").GetString()).Distinct().Count());
        Assert.Equal(AlertsPerSite, alerts.Count(a => a.GetProperty("site").GetString() == "dc2"));

        // Both links caught up and reachable, in the operations panel and in /metrics
        JsonElement replication = default;
        await HostFixture.AwaitAsync(
            () => (replication = client.GetFromJsonAsync<JsonElement>("/api/operations").Result.GetProperty("replication")).EnumerateArray()
                .All(r => r.GetProperty("reachable").GetBoolean() && r.GetProperty("lagRecords").GetInt64() == 0 && r.GetProperty("replicated").GetInt64() == AlertsPerSite + 10),
            TimeSpan.FromSeconds(30),
            () => $"both links caught up: {replication}");
        Assert.Equal(["dc1", "dc2"], replication.EnumerateArray().Select(r => r.GetProperty("site").GetString()!));
        var metrics = await client.GetStringAsync("/metrics");
        Assert.Contains("anomaly_actors_replication_lag_records{site=\"dc1\"} 0\n", metrics);
        Assert.Contains("anomaly_actors_replication_reachable{site=\"dc2\"} 1\n", metrics);
        Assert.Contains($"anomaly_actors_replication_records_total{{site=\"dc1\"}} {AlertsPerSite + 10}\n", metrics);
        Promtool.AssertAccepts(metrics);

        // The same view from the command line: one site's alerts, the counts and each link's health.
        var (code, output) = await CliProcess.RunAsync(HostFixture.NewDataDirectory(), TimeSpan.FromSeconds(60), "alerts", "--url", global.Dashboard.Address.ToString(), "--site", "dc2", "--limit", "1000");
        Assert.True(code == 0, output);
        Assert.Contains($"{2 * AlertsPerSite} alerts on the board (", output);
        Assert.Contains($"unacknowledged {2 * AlertsPerSite}; sites: dc1, dc2", output);
        Assert.Contains("link dc1: reachable, 0 records behind (0 s)", output);
        Assert.Equal(AlertsPerSite, output.Split('\n').Count(l => l.Contains(" dc2 ", StringComparison.Ordinal) && l.Contains("#", StringComparison.Ordinal)));
        Assert.DoesNotContain(" dc1 ", output.Split('\n').Where(l => l.Contains('#', StringComparison.Ordinal)));
        var (jsonCode, json) = await CliProcess.RunAsync(HostFixture.NewDataDirectory(), TimeSpan.FromSeconds(60), "alerts", "--url", global.Dashboard.Address.ToString(), "--json", "--limit", "1000");
        Assert.True(jsonCode == 0, json);
        var answer = JsonDocument.Parse(json.Trim().Split('\n')[^1]).RootElement;
        Assert.Equal(2 * AlertsPerSite, answer.GetProperty("alerts").GetProperty("alerts").GetArrayLength());
        Assert.Equal(2, answer.GetProperty("replication").GetArrayLength());
    }

    [Fact]
    public async Task Should_say_so_when_the_alerts_command_finds_no_dashboard()
    {
        var (code, output) = await CliProcess.RunAsync(HostFixture.NewDataDirectory(), TimeSpan.FromSeconds(60), "alerts", "--url", $"http://127.0.0.1:{FreePort.Next()}");

        Assert.Equal(1, code);
        Assert.Contains("did not answer as a dashboard", output);
    }

    [Fact]
    public async Task Should_run_as_the_global_role_from_the_command_line_and_print_each_links_health()
    {
        await ProduceAlertsAsync(_dc1, "dc1");
        var work = HostFixture.NewDataDirectory();
        var hocon = AnomalyActors.CrashTesting.ShippedConfiguration.CopyTo(Path.Combine(work, "hocon"),
            $"anomaly-actors.global.bootstrap-servers = \"{_global.BootstrapServers}\"",
            "anomaly-actors.global.heartbeat-interval = 500ms",
            $"anomaly-actors.global.sites = [ {{ name = dc1, bootstrap-servers = \"{_dc1.BootstrapServers}\" }} ]");

        var (code, output) = await CliProcess.RunAsync(work, TimeSpan.FromSeconds(90),
            "run", "--role", "global", "--config", hocon, "--data-dir", Path.Combine(work, "data"), "--web-port", "0", "--duration", "10", "--status-every", "2");

        Assert.True(code == 0, output);
        Assert.Contains("AnomalyActors global layer up: 1 site(s) (dc1) copied to", output);
        var expected = $"{AlertsPerSite} alerts on the board; dc1: reachable, 0 records behind (0 s), {AlertsPerSite + 10} copied";
        Assert.True(output.Contains(expected, StringComparison.Ordinal), $"'{expected}' not in:\n{output}");
    }

    [Theory]
    // dc1's devices publish under the simulator's default site name, as a careless set-up would.
    [InlineData("site-1", "dc1", "Site dc1's alerts name streams of site 'site-1'")]
    // The link configured for dc1 is given dc2's Kafka: what it copies says dc2 produced it.
    [InlineData("dc2", "dc2", "The link of site dc1 copies alerts produced by site 'dc2'")]
    public async Task Should_warn_when_a_links_alerts_belong_to_another_site(string streamSite, string origin, string warning)
    {
        await ProduceAlertsAsync(_dc1, "dc1", streamSite, origin);
        var config = ConfigurationFactory.ParseString($$"""
            anomaly-actors.data-dir = "{{HostFixture.NewDataDirectory()}}"
            anomaly-actors.web.port = 0
            anomaly-actors.global {
              bootstrap-servers = "{{_global.BootstrapServers}}"
              sites = [ { name = dc1, bootstrap-servers = "{{_dc1.BootstrapServers}}" } ]
            }
            """);
        var warnings = new List<string>();
        await using var global = await GlobalHost.StartAsync(config, report: w =>
        {
            lock (warnings)
            {
                warnings.Add(w);
            }
        });
        using var client = new HttpClient { BaseAddress = global.Dashboard!.Address };

        await HostFixture.AwaitAsync(
            () => client.GetStringAsync("/metrics").Result.Contains($"anomaly_actors_global_foreign_site_alerts_total{{site=\"dc1\"}} {AlertsPerSite + 10}\n", StringComparison.Ordinal),
            TimeSpan.FromSeconds(60),
            () => $"every copied alert of dc1 counted as another site's: {client.GetStringAsync("/metrics").Result}");
        lock (warnings)
        {
            Assert.Single(warnings, w => w.StartsWith(warning, StringComparison.Ordinal));
        }
    }

    [Fact]
    public async Task Should_refuse_to_start_without_the_global_kafka_or_a_site()
    {
        var error = await Assert.ThrowsAsync<ConfigurationException>(() => GlobalHost.StartAsync(ConfigurationFactory.ParseString($"anomaly-actors.data-dir = \"{HostFixture.NewDataDirectory()}\"")));
        Assert.Contains("anomaly-actors.global.bootstrap-servers", error.Message);

        var typo = ConfigurationFactory.ParseString($$"""
            anomaly-actors.data-dir = "{{HostFixture.NewDataDirectory()}}"
            anomaly-actors.global { bootstrap-servers = "127.0.0.1:1", sites = [ { name = dc1, bootstrap-server = "127.0.0.1:2" } ] }
            """);
        error = await Assert.ThrowsAsync<ConfigurationException>(() => GlobalHost.StartAsync(typo));
        Assert.Contains("anomaly-actors.global.sites[0]", error.Message);
    }
}

/// <summary>The demo command: two whole sites (Kafka, node, devices) and the global layer on one machine.</summary>
public sealed class DemoCommandSpecs
{
    [Fact]
    public async Task Should_start_a_site_on_another_port_when_the_one_found_free_is_taken_before_its_broker_binds_it()
    {
        // Arrange: the first port offered is taken meanwhile by another program
        using var taken = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        taken.Start();
        var takenPort = ((System.Net.IPEndPoint)taken.LocalEndpoint).Port;
        var freePort = FreePort.Next();
        var offered = new Queue<int>([takenPort, freePort]);

        // Act
        var site = await MultiSiteDemo.StartSiteAsync("dc1", HostFixture.NewDataDirectory(), _ => { }, offered.Dequeue);

        // Assert
        try
        {
            Assert.Equal(freePort, site.Node.Settings.Mqtt.Broker.Port);
        }
        finally
        {
            await site.Node.DisposeAsync();
            site.Kafka.Dispose();
        }
    }

    [Fact]
    public async Task Should_show_every_alert_of_two_sites_in_the_global_view()
    {
        var work = HostFixture.NewDataDirectory();

        var (code, output) = await CliProcess.RunAsync(work, TimeSpan.FromMinutes(3),
            "demo", "--sites", "2", "--devices", "4", "--rate", "25", "--duration", "15", "--status-every", "5", "--web-port", "0", "--data-dir", Path.Combine(work, "demo"));

        Assert.True(code == 0, output);
        Assert.Contains("Site dc1: Kafka 127.0.0.1:", output);
        Assert.Contains("Site dc2: Kafka 127.0.0.1:", output);
        var summary = System.Text.RegularExpressions.Regex.Match(output, @"The global view shows all (\d+) alerts of 2 sites\.");
        Assert.True(summary.Success, output);
        Assert.True(int.Parse(summary.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) > 0, output);
        var last = output.Split('\n').Last(l => l.Contains("|| global view:", StringComparison.Ordinal));
        Assert.Matches(@"dc1: [\d,]+ readings, [1-9][\d,]* alerts \| dc2: [\d,]+ readings, [1-9][\d,]* alerts", last);
    }
}
