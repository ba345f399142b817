using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using AnomalyActors.Host.Demo;
using AnomalyActors.Kafka.Embedded;
using AnomalyActors.Testing;
using Confluent.Kafka;

namespace AnomalyActors.CrashTesting;

/// <param name="Sites">Sites dc1, dc2, ...: each its own Kafka (in memory), node and simulated devices.</param>
/// <param name="Steady">How long everything runs uncut first (the site-to-global latency is measured then).</param>
/// <param name="Cut">How long dc1's WAN link to the global layer is cut.</param>
/// <param name="KillReplicator">After the catch-up, SIGKILL the global layer's process mid-stream and start it again.</param>
public sealed record MultiSiteOptions(
    int Sites = 2,
    int DevicesPerSite = 10,
    double Rate = 10,
    TimeSpan? Steady = null,
    TimeSpan? Cut = null,
    bool KillReplicator = true,
    TimeSpan? Timeout = null)
{
    public TimeSpan SteadyTime => Steady ?? TimeSpan.FromSeconds(20);

    public TimeSpan CutTime => Cut ?? TimeSpan.FromSeconds(30);

    public TimeSpan TimeLimit => Timeout ?? TimeSpan.FromMinutes(6);
}

/// <param name="SiteAlertsDuringCut">Alerts each site raised while dc1 was cut off (both keep alerting locally).</param>
/// <param name="LaggingShownDuringCut">Whether the global view showed dc1 unreachable or behind during the cut.</param>
/// <param name="CatchUpSeconds">From the heal to the last alert raised before the heal being visible in the global view.</param>
/// <param name="AlertsAtSites">Distinct alert ids in the sites' alerts topics at the end.</param>
/// <param name="AlertsMissingGlobal">Of those, how many the global view does not show at the end.</param>
/// <param name="AlertsDuplicatedGlobal">Rows of the global view beyond one per alert id.</param>
/// <param name="RepeatedCopies">Records on the global Kafka copied more than once (at least once: the view drops them by id).</param>
/// <param name="LatencyMs">Alert produced at a site to visible in the global view, for every alert raised while uncut (up to 5 s before the cut).</param>
/// <param name="KillToCaughtUpSeconds">From the SIGKILL of the global layer to its restarted view showing every alert again.</param>
public sealed record MultiSiteResult(
    IReadOnlyDictionary<string, int> SiteAlertsDuringCut,
    bool LaggingShownDuringCut,
    double CatchUpSeconds,
    int AlertsAtSites,
    int AlertsMissingGlobal,
    int AlertsDuplicatedGlobal,
    int RepeatedCopies,
    IReadOnlyList<double> LatencyMs,
    double? KillToCaughtUpSeconds,
    string Log)
{
    public double Percentile(double p) => MultiSiteScenario.Percentile(LatencyMs, p);
}

/// <summary>
/// Whole sites and the global layer, with a WAN between them. Each site (its own Kafka, node and
/// simulated devices with spikes) runs in this process; the global layer (<c>run --role global</c>)
/// runs as its own process in a network namespace of its own, where it reaches every site's Kafka
/// and the global Kafka only through this process, so one site's link can be cut (bytes held, as on a
/// cut line) while the site itself goes on. The run: uncut for a while (latency of every alert from
/// its site to the global view), dc1 cut off for the cut time (both sites keep alerting; the view
/// shows dc1 behind), healed (catch-up time), then, optionally, the global process SIGKILLed mid-stream
/// and started again; at the end the view must show every alert of every site once. The test asserts
/// on the result; the <c>multisite</c> benchmark prints it.
/// </summary>
public static class MultiSiteScenario
{
    public static string? Unavailable => IsolatedMembers.Unavailable;

    public static async Task<MultiSiteResult> RunAsync(MultiSiteOptions options, Action<string>? progress = null)
    {
        var log = new StringBuilder();
        var clock = Stopwatch.StartNew();
        void Log(string line)
        {
            var stamped = string.Create(CultureInfo.InvariantCulture, $"[{clock.Elapsed.TotalSeconds,6:0.0}s] {line}");
            lock (log)
            {
                log.AppendLine(stamped);
            }

            progress?.Invoke(stamped);
        }

        using var deadline = new CancellationTokenSource(options.TimeLimit);
        var work = Path.Combine(Path.GetTempPath(), "aa-multisite-" + Guid.NewGuid().ToString("N")[..8]);
        var names = Enumerable.Range(1, options.Sites).Select(i => $"dc{i}").ToList();
        using var globalKafka = MultiSiteDemo.StartGlobalKafka(names);
        var sites = new List<DemoSite>();
        using var stopDevices = new CancellationTokenSource();
        var devices = new List<Task>();
        IsolatedMembers? wan = null;
        CliProcess? global = null;
        var viewer = new GlobalViewer();
        try
        {
            foreach (var name in names)
            {
                sites.Add(await MultiSiteDemo.StartSiteAsync(name, Path.Combine(work, name), Log));
            }

            var siteKafka = sites.ToDictionary(s => s.Name, s => s.Kafka);
            var portOf = sites.ToDictionary(s => s.Name, s => PortOf(s.Kafka.BootstrapServers));
            wan = IsolatedMembers.Create(1, [PortOf(globalKafka.BootstrapServers), .. portOf.Values]);
            var hocon = ShippedConfiguration.CopyTo(Path.Combine(work, "hocon"), [.. MultiSiteDemo.GlobalConfig(sites, globalKafka.BootstrapServers)]);
            const int WebPort = 8686;
            var dashboard = wan.Expose(0, WebPort);
            CliProcess StartGlobal()
            {
                var info = new ProcessStartInfo("dotnet") { UseShellExecute = false };
                foreach (var arg in (string[])[CliProcess.Program, "run", "--role", "global", "--config", hocon, "--data-dir", Path.Combine(work, "global"),
                             "--web-port", WebPort.ToString(CultureInfo.InvariantCulture), "--status-every", "5"])
                {
                    info.ArgumentList.Add(arg);
                }

                info.Environment["ANOMALY_ACTORS_WEB_PORT"] = WebPort.ToString(CultureInfo.InvariantCulture);
                return CliProcess.Start(work, wan.Inside(0, info), line => Log("global| " + line));
            }

            global = StartGlobal();
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{dashboard}"), Timeout = TimeSpan.FromSeconds(5) };
            await AwaitAsync(() => Healthy(http), deadline.Token, "the global layer's dashboard answers", global);
            viewer.Start(http);
            Log($"global layer up; dashboard exposed at 127.0.0.1:{dashboard}");

            foreach (var site in sites)
            {
                devices.Add(MultiSiteDemo.Devices(site, options.DevicesPerSite, options.Rate, Log).RunAsync(stopDevices.Token));
            }

            // Uncut: every alert's way from its site to the global view.
            var steadyFrom = NowMs;
            await Task.Delay(options.SteadyTime, deadline.Token);
            var steadyTo = NowMs;

            // The cut: dc1's Kafka unreachable from the global layer; both sites go on.
            var cutSite = names[0];
            Log($"cutting the WAN link of {cutSite} for {options.CutTime.TotalSeconds:0} s");
            var cutAt = NowMs;
            wan.CutService(portOf[cutSite]);
            var lagging = false;
            var cutClock = Stopwatch.StartNew();
            while (cutClock.Elapsed < options.CutTime)
            {
                lagging |= await ShowsLaggingAsync(http, cutSite);
                await Task.Delay(500, deadline.Token);
            }

            var healAt = NowMs;
            wan.HealService(portOf[cutSite]);
            Log($"healed {cutSite}; the view showed it {(lagging ? "behind" : "NOT behind")} during the cut");

            var beforeHeal = SiteAlerts(siteKafka).Where(a => a.OpenedMs < healAt).Select(a => a.AlertId).ToHashSet();
            await AwaitAsync(() => beforeHeal.All(viewer.Seen.ContainsKey), deadline.Token, $"all {beforeHeal.Count} alerts raised before the heal visible globally", global);
            var catchUp = Math.Max(0, beforeHeal.Max(id => viewer.Seen[id]) - healAt) / 1000.0;
            Log($"caught up {catchUp:0.00} s after the heal");

            double? killToCaughtUp = null;
            if (options.KillReplicator)
            {
                await Task.Delay(TimeSpan.FromSeconds(3), deadline.Token);
                Log("SIGKILL of the global layer mid-stream");
                var killAt = NowMs;
                global.Process.Kill();
                await global.Process.WaitForExitAsync(deadline.Token);
                global.Dispose();
                viewer.Forget();
                await Task.Delay(TimeSpan.FromSeconds(2), deadline.Token);
                global = StartGlobal();
                await AwaitAsync(() => Healthy(http), deadline.Token, "the restarted global layer's dashboard answers", global);
                var raised = SiteAlerts(siteKafka).Select(a => a.AlertId).ToHashSet();
                await AwaitAsync(() => BoardIds(http).IsSupersetOf(raised), deadline.Token, $"the restarted view shows all {raised.Count} alerts raised so far", global);
                killToCaughtUp = (NowMs - killAt) / 1000.0;
                Log($"restarted view complete {killToCaughtUp:0.0} s after the kill");
            }

            await stopDevices.CancelAsync();
            await Task.WhenAll(devices.Select(d => d.ContinueWith(_ => { }, TaskScheduler.Default)));
            // The devices' last readings scored and their alerts copied.
            await Task.Delay(TimeSpan.FromSeconds(3), deadline.Token);

            var all = SiteAlerts(siteKafka);
            var ids = all.Select(a => a.AlertId).ToHashSet();
            List<string> rows = [];
            await AwaitAsync(() => (rows = BoardRows(http)).ToHashSet().IsSupersetOf(ids), deadline.Token, $"the view shows all {ids.Count} alerts at the end", global, throwOnTimeout: false);
            var missing = ids.Except(rows).Count();
            var duplicated = rows.Count - rows.Distinct().Count();
            var copies = GlobalCopies(globalKafka, names);
            var duringCut = names.ToDictionary(n => n, n => all.Count(a => a.Site == n && a.OpenedMs >= cutAt && a.OpenedMs < healAt));
            // Alerts raised in the last seconds before the cut may wait for the heal: not a figure of the uncut way.
            var latencies = all.Where(a => a.OpenedMs >= steadyFrom && a.OpenedMs < steadyTo - UncutMarginMs && viewer.FirstRun.TryGetValue(a.AlertId, out _))
                .Select(a => (double)(viewer.FirstRun[a.AlertId] - a.OpenedMs)).ToList();
            Log($"site to global view: {latencies.Count} alerts, p50 {Percentile(latencies, 0.5):0} ms, p99 {Percentile(latencies, 0.99):0} ms");
            Log($"end: {ids.Count} alerts at the sites, {missing} missing and {duplicated} doubled in the view, {copies} repeated copies on the global Kafka; during the cut {string.Join(", ", duringCut.Select(d => $"{d.Key} {d.Value}"))}");
            return new MultiSiteResult(duringCut, lagging, catchUp, ids.Count, missing, duplicated, copies, latencies, killToCaughtUp, Snapshot(log));
        }
        catch (Exception e) when (e is OperationCanceledException or TimeoutException or InvalidOperationException)
        {
            throw new TimeoutException($"The multi-site run failed: {e.Message}\n{Snapshot(log)}", e);
        }
        finally
        {
            await stopDevices.CancelAsync();
            viewer.Dispose();
            global?.Dispose();
            wan?.Dispose();
            foreach (var site in sites)
            {
                await site.Node.DisposeAsync();
                site.Kafka.Dispose();
            }

            try
            {
                Directory.Delete(work, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    private const long UncutMarginMs = 5_000;

    private static long NowMs => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

    /// <summary>The nearest-rank percentile; NaN without samples.</summary>
    public static double Percentile(IReadOnlyList<double> samples, double p)
    {
        if (samples.Count == 0)
        {
            return double.NaN;
        }

        var sorted = samples.Order().ToArray();
        return sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)];
    }

    private static string Snapshot(StringBuilder log)
    {
        lock (log)
        {
            return log.ToString();
        }
    }

    private static int PortOf(string bootstrap) => int.Parse(bootstrap.Split(',')[0].Split(':')[^1], CultureInfo.InvariantCulture);

    private static bool Healthy(HttpClient http)
    {
        try
        {
            return http.GetStringAsync("/healthz").Result == "ok\n";
        }
        catch (AggregateException)
        {
            return false;
        }
    }

    private static async Task<bool> ShowsLaggingAsync(HttpClient http, string site)
    {
        try
        {
            var operations = await http.GetFromJsonAsync<JsonElement>("/api/operations");
            return operations.GetProperty("replication").EnumerateArray()
                .Any(r => r.GetProperty("site").GetString() == site && (!r.GetProperty("reachable").GetBoolean() || r.GetProperty("lagRecords").GetInt64() > 0));
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or JsonException or KeyNotFoundException)
        {
            return false;
        }
    }

    /// <summary>The alert ids of the global view's rows (one row per alert, as many as it holds).</summary>
    private static List<string> BoardRows(HttpClient http)
    {
        try
        {
            return [.. http.GetFromJsonAsync<JsonElement>("/api/alerts?limit=1000").Result.GetProperty("alerts").EnumerateArray().Select(a => a.GetProperty("alertId").GetString()!)];
        }
        catch (AggregateException)
        {
            return [];
        }
    }

    private static HashSet<string> BoardIds(HttpClient http) => [.. BoardRows(http)];

    private static async Task AwaitAsync(Func<bool> condition, CancellationToken deadline, string what, CliProcess? global, bool throwOnTimeout = true)
    {
        var waited = Stopwatch.StartNew();
        while (!condition())
        {
            if (global is { Process.HasExited: true })
            {
                throw new InvalidOperationException($"the global layer exited ({global.Process.ExitCode}) while waiting for {what}");
            }

            if (deadline.IsCancellationRequested || waited.Elapsed > TimeSpan.FromMinutes(2))
            {
                if (throwOnTimeout)
                {
                    throw new TimeoutException($"gave up waiting for {what}");
                }

                return;
            }

            await Task.Delay(50, CancellationToken.None);
        }
    }

    private sealed record SiteAlert(string Site, string AlertId, long OpenedMs);

    /// <summary>Every opened alert in the sites' own alerts topics, with the time its site produced it.</summary>
    private static List<SiteAlert> SiteAlerts(IReadOnlyDictionary<string, EmbeddedKafka> sites) =>
        [.. sites.SelectMany(s => ReadAll(s.Value.BootstrapServers, "alerts")
            .Where(r => Type(r.Message.Value) == "open")
            .GroupBy(r => r.Message.Key)
            .Select(g => new SiteAlert(s.Key, g.Key, g.Min(r => r.Message.Timestamp.UnixTimestampMs))))];

    /// <summary>Records on the global Kafka's copied alerts topics beyond one per alert change.</summary>
    private static int GlobalCopies(EmbeddedKafka global, IEnumerable<string> sites)
    {
        var records = sites.SelectMany(s => ReadAll(global.BootstrapServers, $"{s}.alerts")).Select(r => (r.Message.Key, Type(r.Message.Value))).ToList();
        return records.Count - records.Distinct().Count();
    }

    private static string? Type(byte[] value)
    {
        try
        {
            return JsonDocument.Parse(value).RootElement.GetProperty("type").GetString();
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            return null;
        }
    }

    private static List<ConsumeResult<string, byte[]>> ReadAll(string bootstrap, string topic)
    {
        using var consumer = new ConsumerBuilder<string, byte[]>(new ConsumerConfig
        {
            BootstrapServers = bootstrap,
            GroupId = "multisite-reader",
            EnableAutoCommit = false,
        }).Build();
        using var admin = new DependentAdminClientBuilder(consumer.Handle).Build();
        var partitions = admin.GetMetadata(topic, TimeSpan.FromSeconds(10)).Topics.Single().Partitions.Select(p => new TopicPartition(topic, p.PartitionId)).ToList();
        var records = new List<ConsumeResult<string, byte[]>>();
        foreach (var partition in partitions)
        {
            var marks = consumer.QueryWatermarkOffsets(partition, TimeSpan.FromSeconds(10));
            if (marks.High.Value <= marks.Low.Value)
            {
                continue;
            }

            consumer.Assign(new TopicPartitionOffset(partition, marks.Low));
            while (true)
            {
                var record = consumer.Consume(TimeSpan.FromSeconds(10)) ?? throw new TimeoutException($"reading {partition} stalled");
                records.Add(record);
                if (record.Offset.Value + 1 >= marks.High.Value)
                {
                    break;
                }
            }
        }

        return records;
    }

    /// <summary>
    /// Follows the global dashboard's alert events and notes when each alert id first showed (this
    /// machine's clock, which the sites' producers share).
    /// </summary>
    private sealed class GlobalViewer : IDisposable
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly ConcurrentDictionary<string, long> _firstRun = new(StringComparer.Ordinal);
        private ConcurrentDictionary<string, long> _seen = new(StringComparer.Ordinal);
        private bool _first = true;

        /// <summary>First seen, by alert id, in the current global process.</summary>
        public ConcurrentDictionary<string, long> Seen => Volatile.Read(ref _seen);

        /// <summary>First seen, by alert id, in the first global process (the latency figures).</summary>
        public IReadOnlyDictionary<string, long> FirstRun => _firstRun;

        public void Start(HttpClient http) => _ = Task.Run(() => FollowAsync(http));

        /// <summary>A new global process: what it shows is seen anew.</summary>
        public void Forget()
        {
            _first = false;
            Volatile.Write(ref _seen, new ConcurrentDictionary<string, long>(StringComparer.Ordinal));
        }

        private async Task FollowAsync(HttpClient http)
        {
            using var events = new HttpClient { BaseAddress = http.BaseAddress, Timeout = Timeout.InfiniteTimeSpan };
            while (!_stop.IsCancellationRequested)
            {
                try
                {
                    using var response = await events.GetAsync("/api/alerts/events", HttpCompletionOption.ResponseHeadersRead, _stop.Token);
                    using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(_stop.Token));
                    while (await reader.ReadLineAsync(_stop.Token) is { } line)
                    {
                        if (!line.StartsWith("data:", StringComparison.Ordinal))
                        {
                            continue;
                        }

                        var now = NowMs;
                        var id = JsonDocument.Parse(line[5..]).RootElement.GetProperty("alertId").GetString()!;
                        Seen.TryAdd(id, now);
                        if (_first)
                        {
                            _firstRun.TryAdd(id, now);
                        }
                    }
                }
                catch (Exception e) when (e is HttpRequestException or IOException or JsonException or KeyNotFoundException or SocketException)
                {
                    await Task.Delay(200).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }

        public void Dispose()
        {
            _stop.Cancel();
            _stop.Dispose();
        }
    }
}
