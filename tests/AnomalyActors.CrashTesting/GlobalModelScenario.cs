using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Akka.Configuration;
using AnomalyActors.Archive;
using AnomalyActors.Core.Commands;
using AnomalyActors.Core.Protocol;
using AnomalyActors.Host;
using AnomalyActors.Models;
using AnomalyActors.Mqtt.Simulation;
using AnomalyActors.Testing;

namespace AnomalyActors.CrashTesting;

/// <summary>How a set of new streams did over its first readings.</summary>
/// <param name="Injected">Anomalies the generator injected among them.</param>
/// <param name="Caught">Injected anomalies whose reading was scored out of band.</param>
/// <param name="Episodes">Episodes (alerts) the streams opened.</param>
/// <param name="EpisodesWithAnAnomaly">Episodes holding at least one injected anomaly.</param>
public sealed record NewStreamOutcome(int Streams, int Readings, long Injected, long Caught, long Episodes, long EpisodesWithAnAnomaly)
{
    /// <summary>Caught over injected; null when nothing was injected.</summary>
    public double? Recall => Injected > 0 ? (double)Caught / Injected : null;

    /// <summary>Episodes with an anomaly over episodes; null when no episode opened.</summary>
    public double? Precision => Episodes > 0 ? (double)EpisodesWithAnAnomaly / Episodes : null;
}

/// <summary>
/// Sites that archive into one shared root and take their global model from it, each a node of
/// its own in this process (shipped configuration, SQLite, no MQTT or dashboard), fed by the
/// Kinesis demo sensor's generator (values 10-20, 1% anomalies of 100-120 after 50 readings).
/// Readings go into each node's intake as a source would put them there; results are read back
/// from the archive, as users query it.
/// </summary>
public static class GlobalModelScenario
{
    /// <summary>
    /// The streams' metric: a type the shipped configuration has no hand-tuned detector for (it has
    /// one for the demo sensor's own name, iotValue), so it gets the default EWMA band, whose alarms
    /// arm after 1,000 readings, as a new kind of sensor does.
    /// </summary>
    public const string Metric = "level";

    private static readonly long Start = new DateTimeOffset(2026, 12, 1, 0, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds();

    /// <param name="modelsRoot">Where the site looks for models (the shared root, or a view of it a test can cut).</param>
    public static Task<AnomalyHost> StartSiteAsync(string site, string sharedRoot, string modelsRoot, string extra = "")
    {
        var dataDirectory = ScratchDirectory.Create("anomaly-actors-global-model-" + site);
        return AnomalyHost.StartAsync(ConfigurationFactory.ParseString($$"""
            anomaly-actors {
              data-dir = "{{dataDirectory}}"
              site = "{{site}}"
              alerts.console = off
              mqtt.enabled = off
              web.enabled = off
              archive {
                enabled = on
                root = "{{sharedRoot}}"
                roll-age = 1s
              }
              models.root = "{{modelsRoot}}"
            }
            akka.loglevel = WARNING
            akka.remote.dot-netty.tcp.port = 0
            {{extra}}
            """), systemName: "site-" + site);
    }

    /// <summary>The stream keys of <paramref name="streams"/> devices named with <paramref name="prefix"/>.</summary>
    public static string[] Streams(string site, string prefix, int streams) =>
        Enumerable.Range(0, streams).Select(i => string.Create(CultureInfo.InvariantCulture, $"{site}/{prefix}-{i}/{Metric}")).ToArray();

    /// <summary>
    /// Feeds <paramref name="readings"/> demo readings to each stream (reading i at Start + i s) and
    /// returns the times of the injected anomalies per stream.
    /// </summary>
    public static async Task<Dictionary<string, HashSet<long>>> FeedAsync(AnomalyHost host, string[] streams, int readings, int seed)
    {
        var generator = new DemoSensorGenerator(new Random(seed));
        var injected = streams.ToDictionary(s => s, _ => new HashSet<long>(), StringComparer.Ordinal);
        var batch = new List<Reading>(4096);
        var batchNumber = 0L;
        var source = "demo-" + Guid.NewGuid().ToString("N")[..8];
        for (var i = 0; i < readings; i++)
        {
            var time = Start + (i * 1000L);
            foreach (var stream in streams)
            {
                var message = generator.Next(stream, i, time);
                using var payload = JsonDocument.Parse(message.Payload);
                batch.Add(new Reading(stream, time, payload.RootElement.GetProperty("iotValue").GetDouble()));
                if (message.Anomalous)
                {
                    injected[stream].Add(time);
                }

                if (batch.Count == batch.Capacity)
                {
                    await IngestAsync(host, source, batchNumber++, batch);
                }
            }
        }

        if (batch.Count > 0)
        {
            await IngestAsync(host, source, batchNumber, batch);
        }

        return injected;
    }

    private static async Task IngestAsync(AnomalyHost host, string source, long batchNumber, List<Reading> batch)
    {
        var reply = await host.Node.IngestAsync(new IngestReadings(source, batchNumber, [.. batch]), TimeSpan.FromMinutes(2));
        if (reply is not ReadingsAccepted)
        {
            throw new InvalidOperationException($"Batch {batchNumber} was not accepted: {reply}");
        }

        batch.Clear();
    }

    /// <summary>Waits until the archive holds an enriched row for every reading of <paramref name="streams"/>.</summary>
    public static async Task AwaitArchivedAsync(string sharedRoot, IReadOnlyCollection<string> streams, int readings, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        var keys = string.Join(",", streams.Select(s => "'" + s + "'"));
        while (true)
        {
            long rows;
            try
            {
                using var query = ArchiveQuery.Open(sharedRoot, ["enriched"]);
                var result = await query.RunAsync($"SELECT count(DISTINCT (site, device, metric, time)) FROM enriched WHERE site || '/' || device || '/' || metric IN ({keys})", TimeSpan.FromMinutes(1));
                rows = Convert.ToInt64(result.Rows[0][0], CultureInfo.InvariantCulture);
            }
            catch (Exception e) when (e is not TimeoutException && DateTime.UtcNow < deadline)
            {
                // No file yet, so no view.
                rows = 0;
            }

            if (rows >= (long)streams.Count * readings)
            {
                return;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"The archive holds {rows:N0} of {(long)streams.Count * readings:N0} readings of the streams after {timeout.TotalSeconds:0} s.");
            }

            await Task.Delay(250);
        }
    }

    /// <summary>Trains on the whole shared archive and publishes the model; returns it with the training's time.</summary>
    public static async Task<(TrainedModel Trained, double TrainSeconds)> TrainAndPublishAsync(string sharedRoot, TrainOptions? options = null)
    {
        var clock = Stopwatch.StartNew();
        var trained = await ModelTrainer.TrainAsync(sharedRoot, options ?? new TrainOptions(), CancellationToken.None);
        var seconds = clock.Elapsed.TotalSeconds;
        ModelStore.InArchive(sharedRoot).Publish(trained.Model, trained.Sites);
        return (trained, seconds);
    }

    /// <summary>Waits until every host's sensors are to use <paramref name="version"/>; returns the seconds it took.</summary>
    public static async Task<double> AwaitSwitchAsync(IEnumerable<AnomalyHost> hosts, string version, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        var all = hosts.ToArray();
        while (!all.All(h => h.CurrentModel?.Model?.Version == version))
        {
            if (clock.Elapsed > timeout)
            {
                throw new TimeoutException($"Not every site took model {version} within {timeout.TotalSeconds:0} s: " +
                    string.Join(", ", all.Select(h => $"{h.Settings.Archive.Site} has {h.CurrentModel?.Model?.Version ?? "none"}")));
            }

            await Task.Delay(50);
        }

        return clock.Elapsed.TotalSeconds;
    }

    /// <summary>What the archive says of new streams' first readings against the anomalies injected into them.</summary>
    public static async Task<NewStreamOutcome> OutcomeAsync(string sharedRoot, Dictionary<string, HashSet<long>> injected, int readings)
    {
        var keys = string.Join(",", injected.Keys.Select(s => "'" + s + "'"));
        using var query = ArchiveQuery.Open(sharedRoot, ["enriched"]);
        var rows = (await query.RunAsync(
            $"SELECT DISTINCT site || '/' || device || '/' || metric, epoch_ms(time), anomaly, alert_id FROM enriched WHERE site || '/' || device || '/' || metric IN ({keys})",
            TimeSpan.FromMinutes(1))).Rows;
        long caught = 0;
        var episodes = new Dictionary<string, bool>(StringComparer.Ordinal);
        foreach (var row in rows)
        {
            var stream = (string)row[0]!;
            var time = Convert.ToInt64(row[1], CultureInfo.InvariantCulture);
            var anomalous = injected[stream].Contains(time);
            if (anomalous && (bool)row[2]!)
            {
                caught++;
            }

            if (row[3] is string alert)
            {
                episodes[alert] = episodes.GetValueOrDefault(alert) || anomalous;
            }
        }

        return new NewStreamOutcome(injected.Count, readings, injected.Values.Sum(t => t.Count), caught, episodes.Count, episodes.Values.Count(a => a));
    }

    /// <summary>The model version each alert line of the host's alerts file carries (null for none), by alert id and type.</summary>
    public static IReadOnlyList<(string AlertId, string Type, string? Model)> AlertModels(AnomalyHost host)
    {
        var path = Path.Combine(host.Settings.Node.DataDirectory, "alerts.jsonl");
        if (!File.Exists(path))
        {
            return [];
        }

        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using var reader = new StreamReader(stream);
        var lines = new List<(string, string, string?)>();
        while (reader.ReadLine() is { } line)
        {
            var json = JsonDocument.Parse(line).RootElement;
            lines.Add((json.GetProperty("alertId").GetString()!, json.GetProperty("type").GetString()!, json.TryGetProperty("model", out var model) ? model.GetString() : null));
        }

        return lines;
    }
}
