using System.Diagnostics;
using System.Text.Json;
using AnomalyActors.Benchmarks.Nab;
using AnomalyActors.CrashTesting;
using AnomalyActors.Testing;

namespace AnomalyActors.Benchmarks.GlobalModel;

/// <summary>
/// <c>global-model [--mature-streams 50] [--new-streams 200] [--mature-readings 1100] [--new-readings 200]</c>:
/// two sites (east, west), each a node of its own with the shipped configuration, archiving into one
/// shared root and taking models from it (shipped poll interval), fed by the Kinesis demo sensor's
/// generator (values 10-20, 1% anomalies of 100-120 after 50 readings). Mature streams past the
/// EWMA band's warm-up fill the archive; new streams started before any model give the figures
/// without one; a model is trained on the archive and published; once both sites have switched,
/// other new streams (other draws of the generator) give the figures with it. Recall: injected
/// anomalies among a new stream's first readings scored out of band; precision: its episodes that
/// hold an injected anomaly. Last line: one JSON object.
/// </summary>
internal static class GlobalModelHarness
{
    public static int Run(string[] argv)
    {
        var args = new HarnessArgs(argv);
        var mature = args.GetInt("mature-streams") ?? 50;
        var fresh = args.GetInt("new-streams") ?? 200;
        var matureReadings = args.GetInt("mature-readings") ?? 1100;
        var newReadings = args.GetInt("new-readings") ?? 200;
        if (mature < 3 || fresh < 1 || matureReadings <= 1000 || newReadings < 51)
        {
            Console.Error.WriteLine("--mature-streams must be at least 3 (a type needs 3 streams), --mature-readings above 1000 (the EWMA warm-up), --new-readings above 50 (the generator's quiet start), --new-streams positive.");
            return 2;
        }

        var result = RunAsync(mature, fresh, matureReadings, newReadings).GetAwaiter().GetResult();
        Console.WriteLine(JsonSerializer.Serialize(result));
        return 0;
    }

    private static async Task<Dictionary<string, object?>> RunAsync(int mature, int fresh, int matureReadings, int newReadings)
    {
        var shared = ScratchDirectory.Create("anomaly-actors-global-model-archive");
        await using var east = await GlobalModelScenario.StartSiteAsync("east", shared, shared);
        await using var west = await GlobalModelScenario.StartSiteAsync("west", shared, shared);
        var sites = new[] { east, west };
        Console.WriteLine($"global-model: 2 sites, {mature} mature streams x {matureReadings} readings and 2 x {fresh} new streams x {newReadings} readings each");

        var clock = Stopwatch.StartNew();
        var matureStreams = sites.Select(s => GlobalModelScenario.Streams(s.Settings.Archive.Site, "mature", mature)).ToArray();
        var without = sites.Select(s => GlobalModelScenario.Streams(s.Settings.Archive.Site, "new-before", fresh)).ToArray();
        var injectedWithout = await Task.WhenAll(sites.Select(async (site, i) =>
        {
            await GlobalModelScenario.FeedAsync(site, matureStreams[i], matureReadings, seed: 4 + i);
            return await GlobalModelScenario.FeedAsync(site, without[i], newReadings, seed: 40 + i);
        }));
        await GlobalModelScenario.AwaitArchivedAsync(shared, [.. matureStreams.SelectMany(s => s)], matureReadings, TimeSpan.FromMinutes(10));
        await GlobalModelScenario.AwaitArchivedAsync(shared, [.. without.SelectMany(s => s)], newReadings, TimeSpan.FromMinutes(10));
        Console.WriteLine($"  fed and archived in {clock.Elapsed.TotalSeconds:0.0} s");

        long archiveRows;
        using (var query = AnomalyActors.Archive.ArchiveQuery.Open(shared, ["enriched"]))
        {
            archiveRows = Convert.ToInt64((await query.RunAsync("SELECT count(*) FROM enriched", TimeSpan.FromMinutes(5))).Rows[0][0], System.Globalization.CultureInfo.InvariantCulture);
        }

        var (trained, trainSeconds) = await GlobalModelScenario.TrainAndPublishAsync(shared);
        var type = trained.Model.Types.Single();
        Console.WriteLine($"  trained model {trained.Model.Version} in {trainSeconds:0.00} s over an archive of {archiveRows:N0} enriched rows: {type.Name} half-width {type.Prior.HalfWidth:0.00} after {type.Prior.ArmAfter} readings, from {type.TrainedStreams} streams and {type.TrainedReadings:N0} readings");
        var switchSeconds = await GlobalModelScenario.AwaitSwitchAsync(sites, trained.Model.Version, TimeSpan.FromSeconds(60));
        Console.WriteLine($"  both sites switched {switchSeconds:0.00} s after the publish (poll every {east.Settings.Models.PollInterval.TotalSeconds:0} s)");

        var with = sites.Select(s => GlobalModelScenario.Streams(s.Settings.Archive.Site, "new-after", fresh)).ToArray();
        var injectedWith = await Task.WhenAll(sites.Select((site, i) => GlobalModelScenario.FeedAsync(site, with[i], newReadings, seed: 50 + i)));
        await GlobalModelScenario.AwaitArchivedAsync(shared, [.. with.SelectMany(s => s)], newReadings, TimeSpan.FromMinutes(10));

        var before = await GlobalModelScenario.OutcomeAsync(shared, Merge(injectedWithout), newReadings);
        var after = await GlobalModelScenario.OutcomeAsync(shared, Merge(injectedWith), newReadings);
        Console.WriteLine($"  without the model: {before.Caught} of {before.Injected} anomalies caught, {before.EpisodesWithAnAnomaly} of {before.Episodes} episodes with one");
        Console.WriteLine($"  with the model:    {after.Caught} of {after.Injected} anomalies caught, {after.EpisodesWithAnAnomaly} of {after.Episodes} episodes with one");
        return new Dictionary<string, object?>
        {
            ["mode"] = "global-model",
            ["sites"] = 2,
            ["mature_streams_per_site"] = mature,
            ["mature_readings_per_stream"] = matureReadings,
            ["new_streams_per_site"] = fresh,
            ["new_readings_per_stream"] = newReadings,
            ["model_version"] = trained.Model.Version,
            ["model_half_width"] = Math.Round(type.Prior.HalfWidth, 3),
            ["model_arm_after"] = type.Prior.ArmAfter,
            ["archive_enriched_rows"] = archiveRows,
            ["train_readings"] = type.TrainedReadings,
            ["train_seconds"] = Math.Round(trainSeconds, 3),
            ["switch_seconds"] = Math.Round(switchSeconds, 2),
            ["new_sensor_recall_first_200"] = Round(after.Recall),
            ["new_sensor_precision_first_200"] = Round(after.Precision),
            ["without_model_recall_first_200"] = Round(before.Recall),
            ["without_model_precision_first_200"] = Round(before.Precision),
            ["injected_with_model"] = after.Injected,
            ["caught_with_model"] = after.Caught,
            ["episodes_with_model"] = after.Episodes,
            ["injected_without_model"] = before.Injected,
            ["caught_without_model"] = before.Caught,
            ["episodes_without_model"] = before.Episodes,
            ["elapsed_s"] = Math.Round(clock.Elapsed.TotalSeconds, 1),
        };
    }

    private static Dictionary<string, HashSet<long>> Merge(IEnumerable<Dictionary<string, HashSet<long>>> sites) =>
        sites.SelectMany(s => s).ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal);

    private static double? Round(double? value) => value is { } v ? Math.Round(v, 4) : null;
}
