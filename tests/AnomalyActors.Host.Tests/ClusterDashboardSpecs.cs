using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using AnomalyActors.Mqtt;
using AnomalyActors.Mqtt.Simulation;
using AnomalyActors.Testing;
using MQTTnet.Protocol;
using Xunit;

namespace AnomalyActors.Host.Tests;

/// <summary>
/// Two `run` processes forming one site's cluster without Kafka (results to each member's files):
/// sensors are spread over both, so each raises some of the alerts, yet both dashboards show every
/// alert of the site live, an alert acknowledged on one member's dashboard is acknowledged on the
/// other's, a stream's page shows its readings on any member, and a member that joins later shows
/// every alert.
/// </summary>
[Collection(HostPostgresCollection.Name)]
public sealed class ClusterDashboardSpecs(PostgresServer postgres)
{
    private const int Devices = 24;
    private const int ReadingsPerDevice = 600;
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(90);

    private sealed record Member(CliProcess Process, string DataDirectory, int MqttPort, HttpClient Web) : IDisposable
    {
        public void Dispose()
        {
            Web.Dispose();
            Process.Dispose();
        }
    }

    private static Member StartMember(string connection, int port, int seedPort)
    {
        var dataDirectory = HostFixture.NewDataDirectory();
        var (mqttPort, webPort) = (HostFixture.FreePortNumber(), HostFixture.FreePortNumber());
        var info = new ProcessStartInfo("dotnet") { ArgumentList = { CliProcess.Program, "run", "--status-every", "1" } };
        info.Environment["ANOMALY_ACTORS_DATA_DIR"] = dataDirectory;
        info.Environment["ANOMALY_ACTORS_PERSISTENCE"] = "postgresql";
        info.Environment["ANOMALY_ACTORS_POSTGRES"] = connection;
        info.Environment["ANOMALY_ACTORS_PORT"] = port.ToString(CultureInfo.InvariantCulture);
        info.Environment["ANOMALY_ACTORS_SEEDS"] = $"akka.tcp://anomaly-actors@127.0.0.1:{seedPort}";
        info.Environment["ANOMALY_ACTORS_MQTT_PORT"] = mqttPort.ToString(CultureInfo.InvariantCulture);
        info.Environment["ANOMALY_ACTORS_WEB_PORT"] = webPort.ToString(CultureInfo.InvariantCulture);
        return new Member(CliProcess.Start(dataDirectory, info), dataDirectory, mqttPort, new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{webPort}/") });
    }

    private static async Task AwaitLineAsync(Member member, string text)
    {
        await HostFixture.AwaitAsync(
            () => member.Process.Output.Contains(text, StringComparison.Ordinal) || member.Process.Process.HasExited,
            Wait,
            () => $"'{text}' in the member's output:{Environment.NewLine}{member.Process.Output}");
        Assert.False(member.Process.Process.HasExited, $"the member exited:{Environment.NewLine}{member.Process.Output}");
    }

    private static string Problems(Member member) =>
        string.Join(Environment.NewLine, member.Process.Output.Split('\n').Where(l => l.Contains("WARN", StringComparison.Ordinal) || l.Contains("ERROR", StringComparison.Ordinal)).TakeLast(20));

    private static HashSet<string> AlertIdsOf(string dataDirectory) =>
        [.. File.ReadLines(Path.Combine(dataDirectory, "alerts.jsonl")).Select(line => JsonDocument.Parse(line).RootElement.GetProperty("alertId").GetString()!)];

    private static async Task<JsonElement[]> BoardAsync(Member member) =>
        [.. (await member.Web.GetFromJsonAsync<JsonElement>("api/alerts?limit=1000")).GetProperty("alerts").EnumerateArray()];

    [Fact]
    public async Task Should_show_every_members_alerts_and_acknowledgements_on_every_members_dashboard()
    {
        // Arrange: two members, devices publishing to the first one's embedded broker
        var connection = await postgres.CreateDatabaseAsync();
        var ports = new[] { HostFixture.FreePortNumber(), HostFixture.FreePortNumber() };
        using var first = StartMember(connection, ports[0], ports[0]);
        await AwaitLineAsync(first, "(1 up)");
        using var second = StartMember(connection, ports[1], ports[0]);
        await AwaitLineAsync(first, "(2 up)");
        await AwaitLineAsync(second, "(2 up)");

        // Act
        var simulator = new DeviceSimulator(new SimulatorOptions(
            "127.0.0.1", first.MqttPort, "anomaly-actors", ServicePassword.TryRead(first.DataDirectory), DeviceKind.Demo, Devices, 1,
            RatePerDevice: 0, ReadingsPerDevice: ReadingsPerDevice, Qos: MqttQualityOfServiceLevel.AtLeastOnce, Seed: 11));
        await simulator.RunAsync();

        // Assert: both members raised alerts, and each board holds the alerts of both
        HashSet<string> all = [];
        await HostFixture.AwaitAsync(
            () =>
            {
                var ofFirst = File.Exists(Path.Combine(first.DataDirectory, "alerts.jsonl")) ? AlertIdsOf(first.DataDirectory) : [];
                var ofSecond = File.Exists(Path.Combine(second.DataDirectory, "alerts.jsonl")) ? AlertIdsOf(second.DataDirectory) : [];
                all = [.. ofFirst, .. ofSecond];
                return ofFirst.Count > 0 && ofSecond.Count > 0
                    && new[] { first, second }.All(m => BoardAsync(m).Result.Select(a => a.GetProperty("alertId").GetString()!).ToHashSet().SetEquals(all));
            },
            Wait,
            () => $"both members' alerts ({all.Count}) on both boards: first holds {BoardAsync(first).Result.Length}, second {BoardAsync(second).Result.Length}");

        // An alert the second member raised, acknowledged on the first member's dashboard
        var raisedBySecond = AlertIdsOf(second.DataDirectory).First();
        using var response = await first.Web.PostAsJsonAsync("api/alerts/acknowledge", new { alertId = raisedBySecond, by = "night shift" });
        response.EnsureSuccessStatusCode();
        await HostFixture.AwaitAsync(
            () => BoardAsync(second).Result.Single(a => a.GetProperty("alertId").GetString() == raisedBySecond).GetProperty("acknowledgedBy").ValueKind == JsonValueKind.String,
            TimeSpan.FromSeconds(10),
            () => "the acknowledgement on the second member's board");
        var row = (await BoardAsync(second)).Single(a => a.GetProperty("alertId").GetString() == raisedBySecond);
        Assert.Equal("night shift", row.GetProperty("acknowledgedBy").GetString());
        Assert.Contains(raisedBySecond, File.ReadAllText(Path.Combine(second.DataDirectory, "acknowledgements.jsonl")));

        // Every stream's page opened on the first member's dashboard: the readings of the streams
        // the second member's sensors score come from the second.
        static async Task<int> PointsAsync(Member member, string stream) =>
            (await member.Web.GetFromJsonAsync<JsonElement>($"api/series?sensor={Uri.EscapeDataString(stream)}")).GetProperty("points").GetProperty("ts").GetArrayLength();
        var streams = Enumerable.Range(0, Devices).Select(d => $"{DeviceSimulator.SiteName(0)}/{DeviceSimulator.DeviceName(d)}/iotValue").ToList();
        var before = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var stream in streams)
        {
            before[stream] = await PointsAsync(first, stream);
        }

        const int More = 20;
        await new DeviceSimulator(new SimulatorOptions(
            "127.0.0.1", first.MqttPort, "anomaly-actors", ServicePassword.TryRead(first.DataDirectory), DeviceKind.Demo, Devices, 1,
            RatePerDevice: 0, ReadingsPerDevice: More, Qos: MqttQualityOfServiceLevel.AtLeastOnce, Seed: 12)).RunAsync();
        var scoredBySecond = AlertIdsOf(second.DataDirectory).Select(id => id[..id.IndexOf('#')]).ToHashSet(StringComparer.Ordinal);
        await HostFixture.AwaitAsync(
            () => streams.All(stream => PointsAsync(first, stream).Result >= before[stream] + More),
            TimeSpan.FromSeconds(20),
            () => $"{More} new readings of every stream on the first member's pages, {scoredBySecond.Count} of them scored by the second: "
                + string.Join(", ", streams.Select(stream => $"{stream} {PointsAsync(first, stream).Result - before[stream]}")));
        Assert.NotEmpty(scoredBySecond);

        // A member that joins later shows the site's alerts, and the acknowledgement, at once.
        using var third = StartMember(connection, HostFixture.FreePortNumber(), ports[0]);
        await AwaitLineAsync(third, "(3 up)");
        await HostFixture.AwaitAsync(
            () => BoardAsync(third).Result is var board && board.Select(a => a.GetProperty("alertId").GetString()!).ToHashSet().SetEquals(all)
                && board.Single(a => a.GetProperty("alertId").GetString() == raisedBySecond).GetProperty("acknowledgedBy").ValueKind == JsonValueKind.String,
            TimeSpan.FromSeconds(30),
            () => $"the site's {all.Count} alerts on the third member's board: it holds {BoardAsync(third).Result.Length}");

        foreach (var member in new[] { third, second, first })
        {
            await member.Process.TerminateAsync(Wait);
            Assert.Equal(0, member.Process.Process.ExitCode);
        }
    }
}
