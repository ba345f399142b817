using Akka.Actor;
using Akka.Configuration;
using Akka.Persistence.Query;
using Akka.Persistence.Sql.Query;
using Akka.Streams;
using Akka.Streams.Dsl;
using AnomalyActors.Core.Commands;
using AnomalyActors.Core.Events;
using AnomalyActors.Core.Queries;
using AnomalyActors.Node.Hosting;
using AnomalyActors.TestNode;
using AnomalyActors.Testing;
using Xunit;

namespace AnomalyActors.Node.Tests;

/// <summary>What a sensor ended with: compared between an uninterrupted and an interrupted run.</summary>
/// <param name="Episodes">Its episode transitions in the journal (only with sensor.journal-episodes on).</param>
/// <param name="Alerts">
/// Its transitions in the confirmed alert record, alerts.jsonl (each once, in order; empty when the
/// node writes no alerts file): ids, offsets and values.
/// </param>
public sealed record SensorOutcome(string Key, long Offset, long ReadingsScored, long EpisodesOpened, bool EpisodeOpen, string DetectorState, string[] Episodes, string[] Alerts)
{
    /// <summary>Opens and closes the sensor decided: each episode opened, and closed unless it is still open.</summary>
    public long EpisodeTransitions => 2 * EpisodesOpened - (EpisodeOpen ? 1 : 0);
}

/// <summary>Builds node configurations on a fresh data directory and drives batches through a node.</summary>
public static class NodeFixture
{
    public static string NewDataDirectory() => ScratchDirectory.Create("anomaly-actors-tests");

    /// <summary>A node that dies like a killed process: no hand-off, no final snapshots.</summary>
    public static Config Crashable(Config overrides) => ConfigurationFactory.ParseString("""
        akka.coordinated-shutdown.run-by-actor-system-terminate = off
        akka.coordinated-shutdown.run-by-clr-shutdown-hook = off
        """).WithFallback(overrides);

    /// <summary>Feeds batches [from, to) one after another, each acknowledged before the next.</summary>
    public static async Task FeedAsync(AnomalyNode node, TestInput input, int from, int to, string source = "test-source")
    {
        for (var b = from; b < to; b++)
        {
            var reply = await node.IngestAsync(new IngestReadings(source, b, input.Batches[b]));
            if (reply is not ReadingsAccepted)
            {
                throw new InvalidOperationException($"Batch {b} was not accepted: {reply}");
            }
        }
    }

    /// <summary>Waits (polling, no fixed sleep) until the condition holds or the timeout passes.</summary>
    public static async Task AwaitAsync(Func<Task<bool>> condition, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Timed out waiting for {what}.");
            }

            await Task.Delay(50);
        }
    }

    public static Task AwaitAsync(Func<bool> condition, TimeSpan timeout, string what) =>
        AwaitAsync(() => Task.FromResult(condition()), timeout, what);

    public static async Task<SensorStateView[]> QueryAsync(AnomalyNode node, IEnumerable<string> keys) =>
        await Task.WhenAll(keys.Select(k => node.Sensors.Ask<SensorStateView>(new GetSensorState(k), TimeSpan.FromSeconds(30))));

    /// <summary>Waits until every sensor has applied the log up to the given offsets, then collects outcomes from state and journal.</summary>
    public static async Task<SensorOutcome[]> OutcomesAsync(AnomalyNode node, IReadOnlyDictionary<string, long> finalOffsets)
    {
        await AwaitAsync(
            async () =>
            {
                try
                {
                    return (await QueryAsync(node, finalOffsets.Keys)).All(v => v.Offset == finalOffsets[v.SensorId]);
                }
                catch (Akka.Actor.AskTimeoutException)
                {
                    // A shard on its way between cluster members holds its messages until it lands;
                    // on a loaded machine that can outlast one query, not the whole wait.
                    return false;
                }
            },
            TimeSpan.FromSeconds(120),
            "every sensor to reach its final offset");
        return await CollectAsync(node, finalOffsets.Keys);
    }

    public static async Task<SensorOutcome[]> CollectAsync(AnomalyNode node, IEnumerable<string> keys)
    {
        var views = await QueryAsync(node, keys);
        var alerts = await AlertRecordAsync(node, views);
        var journal = PersistenceQuery.Get(node.System).ReadJournalFor<SqlReadJournal>(SqlReadJournal.Identifier);
        var materializer = node.System.Materializer();
        var outcomes = new List<SensorOutcome>();
        foreach (var view in views.OrderBy(v => v.SensorId, StringComparer.Ordinal))
        {
            var events = await journal.CurrentEventsByPersistenceId("sensor-" + view.SensorId, 0, long.MaxValue)
                .Select(e => e.Event switch
                {
                    EpisodeOpened o => $"open {o.AlertId} @{o.Offset} v={BitConverter.DoubleToInt64Bits(o.Value)}",
                    EpisodeClosed c => $"close {c.AlertId} @{c.Offset} n={c.OutOfBandReadings}",
                    ModelAdopted m => $"model {m.Version} after @{m.AfterOffset} prior {m.Prior}",
                    var other => "unexpected " + other,
                })
                .RunWith(Sink.Seq<string>(), materializer);
            outcomes.Add(new SensorOutcome(
                view.SensorId,
                view.Offset,
                view.ReadingsScored,
                view.EpisodesOpened,
                view.EpisodeOpen,
                Convert.ToHexString(view.DetectorState),
                events.ToArray(),
                alerts.GetValueOrDefault(view.SensorId) ?? []));
        }

        return outcomes.ToArray();
    }

    /// <summary>
    /// The alerts file per sensor, in the journal's line format, each transition once. A sensor's
    /// state counts a transition before the sink confirms it written, so this waits (bounded) until
    /// the file holds as many distinct transitions as the sensors decided.
    /// </summary>
    private static async Task<Dictionary<string, string[]>> AlertRecordAsync(AnomalyNode node, SensorStateView[] views)
    {
        if (node.Settings.Alerts.FilePath is not { } path)
        {
            return [];
        }

        var expected = views.Sum(v => 2 * v.EpisodesOpened - (v.EpisodeOpen ? 1 : 0));
        var keys = views.Select(v => v.SensorId).ToHashSet(StringComparer.Ordinal);
        Dictionary<string, string[]> record = [];
        await AwaitAsync(() =>
        {
            record = AlertRecord(path, keys);
            return record.Values.Sum(lines => lines.Length) >= expected;
        }, TimeSpan.FromSeconds(30), $"{expected} alerts in {path}");
        return record;
    }

    /// <summary>
    /// The file's lines that end in a line break: a node still running may be appending the last one,
    /// and a reader sees it half written.
    /// </summary>
    private static IEnumerable<string> CompleteLines(string path)
    {
        if (!File.Exists(path))
        {
            return [];
        }

        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        var text = new StreamReader(stream).ReadToEnd();
        var end = text.LastIndexOf('\n');
        return end < 0 ? [] : text[..end].Split('\n', StringSplitOptions.RemoveEmptyEntries);
    }

    /// <summary>alerts.jsonl as "open ID @OFFSET v=BITS" / "close ID @OFFSET n=COUNT" lines per sensor, each once, in file order.</summary>
    public static Dictionary<string, string[]> AlertRecord(string path, IReadOnlySet<string>? sensors = null)
    {
        var lines = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var text in CompleteLines(path))
        {
            var alert = System.Text.Json.JsonDocument.Parse(text).RootElement;
            var id = alert.GetProperty("alertId").GetString()!;
            var sensor = id[..id.LastIndexOf('#')];
            if (sensors is not null && !sensors.Contains(sensor))
            {
                continue;
            }

            var line = alert.GetProperty("type").GetString() == "open"
                ? $"open {id} @{alert.GetProperty("offset").GetInt64()} v={BitConverter.DoubleToInt64Bits(alert.GetProperty("value").GetDouble())}"
                : $"close {id} @{alert.GetProperty("offset").GetInt64()} n={alert.GetProperty("outOfBandReadings").GetInt64()}";
            if (seen.Add(line))
            {
                (lines.TryGetValue(sensor, out var list) ? list : lines[sensor] = []).Add(line);
            }
        }

        return lines.ToDictionary(kv => kv.Key, kv => kv.Value.ToArray(), StringComparer.Ordinal);
    }

    /// <summary>Every sensor ended in exactly the same state as in the reference run.</summary>
    public static void AssertSameOutcomes(SensorOutcome[] expected, SensorOutcome[] actual)
    {
        // From the sensors' state, as a Kafka node journals no episodes (its alerts topic records them).
        Assert.True(expected.Sum(o => o.EpisodesOpened) > 0, "The input must produce episodes, or the comparison proves little.");
        Assert.Equal(expected.Length, actual.Length);
        for (var i = 0; i < expected.Length; i++)
        {
            Assert.Equal(expected[i].Key, actual[i].Key);
            Assert.Equal(expected[i].Offset, actual[i].Offset);
            Assert.Equal(expected[i].ReadingsScored, actual[i].ReadingsScored);
            Assert.Equal(expected[i].DetectorState, actual[i].DetectorState);
            Assert.Equal(expected[i].EpisodesOpened, actual[i].EpisodesOpened);
            Assert.Equal(expected[i].EpisodeOpen, actual[i].EpisodeOpen);
            Assert.Equal(expected[i].Episodes, actual[i].Episodes);
            Assert.Equal(expected[i].Alerts, actual[i].Alerts);
        }
    }

    public static string[] AlertLines(string dataDirectory)
    {
        var path = Path.Combine(dataDirectory, "alerts.jsonl");
        return File.Exists(path) ? File.ReadAllLines(path) : [];
    }
}
