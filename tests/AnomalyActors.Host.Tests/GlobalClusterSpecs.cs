using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using AnomalyActors.Core.Events;
using AnomalyActors.Core.Results;
using AnomalyActors.Kafka.Testing;
using AnomalyActors.Testing;
using Confluent.Kafka;
using Xunit;
using Xunit.Abstractions;

namespace AnomalyActors.Host.Tests;

/// <summary>
/// The global layer as a cluster of two `run --role global` processes: a site's link is a singleton
/// on the oldest member; SIGKILL that member mid-stream and the other takes the link over, going on
/// from the offsets stored on the global Kafka, and its view ends with every alert once.
/// </summary>
public sealed class GlobalClusterSpecs(ITestOutputHelper output) : IDisposable
{
    private readonly MockKafkaCluster _dc1 = new(brokers: 1);
    private readonly MockKafkaCluster _global = new(brokers: 1);
    private int _produced;

    public void Dispose()
    {
        _dc1.Dispose();
        _global.Dispose();
    }

    [Fact]
    public async Task Should_move_a_sites_link_to_the_surviving_member_when_the_member_running_it_is_killed()
    {
        _dc1.CreateTopic("alerts", 4);
        _global.CreateTopic("dc1.alerts", 4);
        _global.CreateTopic("anomaly-actors.replication-offsets", 2);
        _global.CreateTopic("anomaly-actors.replication-status", 1);
        var work = HostFixture.NewDataDirectory();
        var hocon = AnomalyActors.CrashTesting.ShippedConfiguration.CopyTo(Path.Combine(work, "hocon"),
            $"anomaly-actors.global.bootstrap-servers = \"{_global.BootstrapServers}\"",
            "anomaly-actors.global.heartbeat-interval = 500ms",
            $"anomaly-actors.global.sites = [ {{ name = dc1, bootstrap-servers = \"{_dc1.BootstrapServers}\" }} ]");

        // The first member gets the higher port: with two members, keep-majority keeps the side with
        // the lowest address, so the survivor of the first member's death is the second.
        var (first, second) = (FreePort.Next(), FreePort.Next());
        (first, second) = (Math.Max(first, second), Math.Min(first, second));
        var seed = $"akka.tcp://anomaly-actors@127.0.0.1:{first}";
        using var oldest = Member(work, hocon, "a", first, seed);
        await AwaitLineAsync(oldest, "global: The link of site dc1 runs on this member", TimeSpan.FromSeconds(60));
        using var survivor = Member(work, hocon, "b", second, seed);
        await AwaitLineAsync(survivor, "AnomalyActors global layer up", TimeSpan.FromSeconds(60));
        await ProduceAlertsAsync(30);
        using var board = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{WebPortOf(survivor)}") };
        await AwaitAlertsAsync(board, 30, "the survivor's view shows what the oldest member's link copied");

        Assert.True(survivor.FirstLineAt("global: The link of site dc1 runs on this member") is null, "the link runs on both members at once");

        // SIGKILL the member running the link, with alerts still arriving at the site.
        var killed = Stopwatch.StartNew();
        oldest.Process.Kill();
        await oldest.Process.WaitForExitAsync();
        await ProduceAlertsAsync(30);

        await AwaitLineAsync(survivor, "global: The link of site dc1 runs on this member", TimeSpan.FromSeconds(90));
        await AwaitAlertsAsync(board, 60, "every alert, those produced after the kill included, once in the survivor's view");
        output.WriteLine($"link taken over and view complete {killed.Elapsed.TotalSeconds:0.0} s after the SIGKILL");
        JsonElement dc1 = default;
        await HostFixture.AwaitAsync(
            () => (dc1 = board.GetFromJsonAsync<JsonElement>("/api/operations").Result.GetProperty("replication")[0]).GetProperty("reachable").GetBoolean()
                && dc1.GetProperty("lagRecords").GetInt64() == 0,
            TimeSpan.FromSeconds(30),
            () => $"the link's heartbeats, now from the survivor: {dc1}");
        Assert.DoesNotContain("Unhandled exception", survivor.Output);
    }

    private CliProcess Member(string work, string hocon, string name, int port, string seed)
    {
        var info = new ProcessStartInfo("dotnet") { UseShellExecute = false };
        foreach (var arg in (string[])[CliProcess.Program, "run", "--role", "global", "--config", hocon, "--data-dir", Path.Combine(work, name),
                     "--web-port", FreePort.Next().ToString(CultureInfo.InvariantCulture), "--status-every", "2"])
        {
            info.ArgumentList.Add(arg);
        }

        info.Environment["ANOMALY_ACTORS_PORT"] = port.ToString(CultureInfo.InvariantCulture);
        info.Environment["ANOMALY_ACTORS_SEEDS"] = seed;
        return CliProcess.Start(work, info, line => output.WriteLine($"{name}| {line}"));
    }

    private static int WebPortOf(CliProcess member)
    {
        var line = member.Output.Split('\n').First(l => l.StartsWith("Dashboard: http://127.0.0.1:", StringComparison.Ordinal));
        return int.Parse(line["Dashboard: http://127.0.0.1:".Length..].Split('/')[0], CultureInfo.InvariantCulture);
    }

    private static Task AwaitLineAsync(CliProcess member, string prefix, TimeSpan timeout) =>
        HostFixture.AwaitAsync(() => member.FirstLineAt(prefix) is not null || member.Process.HasExited, timeout, () => $"'{prefix}' in:\n{member.Output}")
            .ContinueWith(t =>
            {
                t.GetAwaiter().GetResult();
                Assert.True(member.FirstLineAt(prefix) is not null, $"the member exited before '{prefix}':\n{member.Output}");
            }, TaskScheduler.Default);

    private static async Task AwaitAlertsAsync(HttpClient board, int count, string what)
    {
        string[] ids = [];
        await HostFixture.AwaitAsync(
            () => (ids = [.. board.GetFromJsonAsync<JsonElement>("/api/alerts?limit=1000").Result.GetProperty("alerts").EnumerateArray().Select(a => a.GetProperty("alertId").GetString()!)]).Length >= count,
            TimeSpan.FromSeconds(90),
            () => $"{what}: {ids.Length} of {count}");
        Assert.Equal(count, ids.Length);
        Assert.Equal(count, ids.Distinct().Count());
    }

    private async Task ProduceAlertsAsync(int count)
    {
        using var producer = new ProducerBuilder<string, string>(new ProducerConfig { BootstrapServers = _dc1.BootstrapServers }).Build();
        for (var i = 0; i < count; i++, _produced++)
        {
            var alert = new EpisodeOpened($"dc1/device-{_produced}/temp", 1, _produced, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), 100, 0.9);
            await producer.ProduceAsync("alerts", new Message<string, string> { Key = alert.AlertId, Value = ResultRecords.AlertJson(alert, "dc1") });
        }
    }
}
