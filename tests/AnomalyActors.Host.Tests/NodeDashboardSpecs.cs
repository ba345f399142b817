using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Akka.Actor;
using Akka.Configuration;
using AnomalyActors.Core.Queries;
using AnomalyActors.Mqtt.Simulation;
using AnomalyActors.Testing;
using MQTTnet;
using MQTTnet.Protocol;
using Xunit;

namespace AnomalyActors.Host.Tests;

/// <summary>The dashboard of a whole node: what its sensors raise reaches the API and /metrics, and survives a restart.</summary>
public sealed class NodeDashboardSpecs
{
    private const int Devices = 4;
    private const int ReadingsPerDevice = 2_000;

    [Fact]
    public async Task Should_show_every_alert_of_the_node_export_its_counters_and_keep_both_across_a_restart()
    {
        // Arrange: a node with simulated devices whose spikes open episodes
        var dataDirectory = HostFixture.NewDataDirectory();
        var port = HostFixture.FreePortNumber();
        string acknowledged;
        // The archive too, rolling often, so that its counters move while the test watches.
        var archive = $"""
            anomaly-actors.archive.enabled = on
            anomaly-actors.archive.root = "{Path.Combine(dataDirectory, "archive")}"
            anomaly-actors.archive.roll-age = 200ms
            anomaly-actors.archive.idle-poll = 20ms
            """;
        await using (var host = await AnomalyHost.StartAsync(HostFixture.Config(dataDirectory, port, extra: archive)))
        {
            var simulator = new DeviceSimulator(new SimulatorOptions(
                "127.0.0.1", port, HostFixture.Username, HostFixture.Password, DeviceKind.Demo, Devices, 1,
                RatePerDevice: 0, ReadingsPerDevice: ReadingsPerDevice, Qos: MqttQualityOfServiceLevel.AtLeastOnce, Seed: 11));
            await simulator.RunAsync();
            await HostFixture.AwaitAsync(() => host.Node.Metrics.ReadingsScored >= Devices * ReadingsPerDevice, TimeSpan.FromSeconds(120),
                () => $"{host.Node.Metrics.ReadingsScored} readings scored");
            await Task.WhenAll(Enumerable.Range(0, Devices).Select(i =>
                host.Node.Sensors.Ask<SensorStateView>(new GetSensorState($"{DeviceSimulator.SiteName(0)}/{DeviceSimulator.DeviceName(i)}/iotValue"), TimeSpan.FromSeconds(30))));
            var events = host.Node.Metrics.EpisodesOpened + host.Node.Metrics.EpisodesClosed;
            Assert.True(host.Node.Metrics.EpisodesOpened > 0, "no episode opened");
            await HostFixture.AwaitAsync(() => HostFixture.ReadAlerts(dataDirectory).Count >= events, TimeSpan.FromSeconds(30), () => "alerts.jsonl");
            var fileIds = HostFixture.ReadAlerts(dataDirectory).Select(a => a.AlertId).ToHashSet();
            using var client = new HttpClient { BaseAddress = host.Dashboard!.Address };

            // Act + Assert: every alert of the file is on the board (delivered live)
            await HostFixture.AwaitAsync(() => AlertIdsAsync(client).Result.SetEquals(fileIds), TimeSpan.FromSeconds(30),
                () => $"the API to list the {fileIds.Count} alerts of alerts.jsonl");
            var metrics = await client.GetStringAsync("/metrics");
            Promtool.AssertAccepts(metrics);
            Assert.Contains($"anomaly_actors_readings_scored_total{{site=\"local\"}} {(Devices * ReadingsPerDevice).ToString(CultureInfo.InvariantCulture)}\n", metrics);
            Assert.Contains($"anomaly_actors_episodes_opened_total{{site=\"local\"}} {host.Node.Metrics.EpisodesOpened.ToString(CultureInfo.InvariantCulture)}\n", metrics);
            Assert.Contains("anomaly_actors_dead_letters_total{reason=\"InvalidJson\",site=\"local\"} 0\n", metrics);
            Assert.Contains("anomaly_actors_intake_readings_retained{site=\"local\"} ", metrics);
            Assert.Matches("anomaly_actors_journal_write_seconds_count\\{site=\"local\"\\} [1-9]", metrics);
            // Every reading and every alert change reaches the archive's files, and is counted there.
            var archived = (Devices * ReadingsPerDevice) + events;
            await HostFixture.AwaitAsync(
                () => client.GetStringAsync("/metrics").Result.Contains($"anomaly_actors_archive_rows_total{{site=\"local\"}} {archived.ToString(CultureInfo.InvariantCulture)}\n", StringComparison.Ordinal),
                TimeSpan.FromSeconds(30),
                () => $"{archived} archived rows in /metrics ({host.LocalArchive?.RowsCommitted} committed)");
            Assert.Contains("anomaly_actors_archive_records_lost_total{site=\"local\"} 0\n", metrics);
            // Every episode opened here was delivered live, so each is in the latency histogram.
            Assert.Contains($"anomaly_actors_alert_latency_seconds_count{{metric=\"iotValue\",site=\"site-1\"}} {host.Node.Metrics.EpisodesOpened.ToString(CultureInfo.InvariantCulture)}\n", metrics);
            // A stream is watched from its first alert on: its page has the readings scored since.
            var alerted = HostFixture.ReadAlerts(dataDirectory).First(a => a.Type == "open");
            var series = await client.GetFromJsonAsync<JsonElement>($"/api/series?sensor={Uri.EscapeDataString(alerted.AlertId.Split('#')[0])}");
            Assert.True(series.GetProperty("points").GetProperty("ts").GetArrayLength() > 0, "no readings of a stream watched since its alert");
            var operations = await client.GetFromJsonAsync<JsonElement>("/api/operations");
            Assert.Equal(Devices * ReadingsPerDevice, operations.GetProperty("readingsScored").GetInt64());
            Assert.Equal("Up", Assert.Single(operations.GetProperty("members").EnumerateArray()).GetProperty("status").GetString());
            Assert.Equal(JsonValueKind.Object, operations.GetProperty("intake").ValueKind);

            acknowledged = fileIds.First();
            var ack = await client.PostAsync("/api/alerts/acknowledge",
                new StringContent(JsonSerializer.Serialize(new { alertId = acknowledged, by = "on-call" }), Encoding.UTF8, "application/json"));
            Assert.Equal(HttpStatusCode.OK, ack.StatusCode);
        }

        // A restart on the same data directory: the board is filled from the alerts file, acknowledgements kept
        await using var again = await AnomalyHost.StartAsync(HostFixture.Config(dataDirectory, HostFixture.FreePortNumber()));
        using var second = new HttpClient { BaseAddress = again.Dashboard!.Address };
        var rows = (await second.GetFromJsonAsync<JsonElement>("/api/alerts")).GetProperty("alerts").EnumerateArray().ToList();
        Assert.Equal(HostFixture.ReadAlerts(dataDirectory).Select(a => a.AlertId).ToHashSet(), rows.Select(r => r.GetProperty("alertId").GetString()!).ToHashSet());
        Assert.Equal("on-call", rows.Single(r => r.GetProperty("alertId").GetString() == acknowledged).GetProperty("acknowledgedBy").GetString());
    }

    [Fact]
    public async Task Should_show_an_anomaly_in_the_browser_within_5_seconds_of_its_reading()
    {
        const string Chromium = "/usr/bin/chromium";
        Assert.True(File.Exists(Chromium), $"{Chromium} is missing: install Debian's chromium package (.ci/install-test-deps.sh does)");
        var port = HostFixture.FreePortNumber();
        await using var host = await AnomalyHost.StartAsync(HostFixture.Config(HostFixture.NewDataDirectory(), port));
        using var device = await HostFixture.ConnectAsync(port, HostFixture.Username, HostFixture.Password);
        const string topic = "sensors/dc1/boiler-7/temperature";
        // The EWMA band's warm-up (alarm-after 1,000 readings) with the demo sensor's values (10-20),
        // pipelined a hundred at a time (the client sends them in order).
        var random = new Random(7);
        var published = 0;
        async Task PublishNormalAsync(int count)
        {
            await Task.WhenAll(Enumerable.Range(0, count).Select(_ => device.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(topic)
                .WithPayload((10 + random.NextDouble() * 10).ToString("0.000", CultureInfo.InvariantCulture))
                .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build())));
            published += count;
            await HostFixture.AwaitAsync(() => host.Node.Metrics.ReadingsScored >= published, TimeSpan.FromSeconds(60), () => $"{host.Node.Metrics.ReadingsScored} of {published} scored");
        }

        for (var i = 0; i < 11; i++)
        {
            await PublishNormalAsync(100);
        }

        // An episode still open would take the spike in; more quiet readings until it closes.
        var board = host.Dashboard!.Board;
        for (var more = 0; more < 20 && board.Recent(new Web.Alerts.AlertFilter(Device: "boiler-7", State: "open"), 10).Count > 0; more++)
        {
            await PublishNormalAsync(10);
        }

        Assert.Empty(board.Recent(new Web.Alerts.AlertFilter(Device: "boiler-7", State: "open"), 10));
        using var playwright = await Microsoft.Playwright.Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new() { ExecutablePath = Chromium, Headless = true, Args = ["--no-sandbox"] });
        var page = await browser.NewPageAsync();
        await page.GotoAsync(host.Dashboard!.Address.ToString());
        await Microsoft.Playwright.Assertions.Expect(page.Locator("#connection")).ToHaveTextAsync("live", new() { Timeout = 20_000 });

        var clock = System.Diagnostics.Stopwatch.StartNew();
        await device.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload("250")
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
        // The warm-up's own small wobbles may have opened episodes before: the spike's row is the one with its value.
        var row = page.Locator("tbody#alerts tr", new() { HasText = "250.000" });
        await Microsoft.Playwright.Assertions.Expect(row).ToBeVisibleAsync(new() { Timeout = 5_000 });
        clock.Stop();

        await Microsoft.Playwright.Assertions.Expect(row.Locator("td.state")).ToHaveTextAsync("open");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"the alert took {clock.Elapsed.TotalSeconds:0.0} s to appear");
    }

    [Fact]
    public async Task Should_name_the_dashboard_port_in_use()
    {
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var port = ((IPEndPoint)taken.LocalEndpoint).Port;
        var config = ConfigurationFactory.ParseString($"anomaly-actors.web.port = {port}")
            .WithFallback(HostFixture.Config(HostFixture.NewDataDirectory(), HostFixture.FreePortNumber()));

        var error = await Assert.ThrowsAsync<ConfigurationException>(() => AnomalyHost.StartAsync(config));

        Assert.Contains($"'anomaly-actors.web.port' is {port}", error.Message);
        Assert.Contains("ANOMALY_ACTORS_WEB_PORT", error.Message);
    }

    private static async Task<HashSet<string>> AlertIdsAsync(HttpClient client)
    {
        var page = await client.GetFromJsonAsync<JsonElement>("/api/alerts");
        return page.GetProperty("alerts").EnumerateArray().Select(a => a.GetProperty("alertId").GetString()!).ToHashSet();
    }
}
