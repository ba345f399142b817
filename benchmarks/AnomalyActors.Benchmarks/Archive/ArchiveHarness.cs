using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Akka.Configuration;
using AnomalyActors.Archive;
using AnomalyActors.Benchmarks.Common;
using AnomalyActors.Benchmarks.Nab;
using AnomalyActors.Core.Commands;
using AnomalyActors.Core.Protocol;
using AnomalyActors.CrashTesting;
using AnomalyActors.Host;
using AnomalyActors.Mqtt.Simulation;
using AnomalyActors.Testing;

namespace AnomalyActors.Benchmarks.Archive;

/// <summary>
/// <c>archive [--sensors N] [--readings N] [--rounds R] [--warmup-readings N] [--kill-devices N] [--kill-readings N]</c>:
/// the cost and the exactness of the Parquet archive with the settings users run (the shipped
/// configuration: SQLite, 8 intake partitions, archive rolls of 128 MB / 10 min).
/// Throughput: the same seeded readings through a node without and with the archive, both in each
/// round (which runs first alternates), after a shorter run of each that is not counted (a
/// process's first runs pay for compiling the code both share, which a node that runs for days
/// does not), a run counting until every reading is scored; with the
/// archive, until every row is also committed in a visible file (the stop commits the last roll).
/// The ratio is the median of the rounds' ratios, the rates the medians of each.
/// Exactness: the crash scenario (devices over MQTT, the node its own process, SIGKILLed twice)
/// with the archive on, its files read back with DuckDB. Last line: one JSON object.
/// </summary>
internal static class ArchiveHarness
{
    public static int Run(string[] argv)
    {
        var args = new HarnessArgs(argv);
        var sensors = args.GetInt("sensors") ?? 10_000;
        var readings = args.GetInt("readings") ?? 10_000_000;
        var rounds = args.GetInt("rounds") ?? 3;
        var warmup = args.GetInt("warmup-readings") ?? 2_000_000;
        var killDevices = args.GetInt("kill-devices") ?? 20;
        var killReadings = args.GetInt("kill-readings") ?? 5_000;
        Console.WriteLine($"archive: {readings:N0} readings over {sensors:N0} sensors, {rounds} round(s) each without and with the archive");
        var batches = Batches(sensors, readings, batchSize: 10_000);
        if (warmup > 0)
        {
            var warmupBatches = batches.Take(Math.Max(1, warmup / 10_000)).ToArray();
            var warmupReadings = warmupBatches.Sum(b => b.Length);
            Console.WriteLine($"archive: warm-up, {warmupReadings:N0} readings without and with the archive (not counted)");
            ScratchDirectory.DeleteQuietly(Path.GetDirectoryName(RunAsync(warmupBatches, warmupReadings, archive: false).GetAwaiter().GetResult().Root)!);
            ScratchDirectory.DeleteQuietly(Path.GetDirectoryName(RunAsync(warmupBatches, warmupReadings, archive: true).GetAwaiter().GetResult().Root)!);
        }

        var without = new List<double>();
        var with = new List<double>();
        var ratios = new List<double>();
        RoundResult? last = null;
        for (var round = 0; round < rounds; round++)
        {
            // Alternating which runs first: neither always follows the other's garbage.
            RoundResult withArchive;
            if (round % 2 == 0)
            {
                without.Add(RunAsync(batches, readings, archive: false).GetAwaiter().GetResult().ReadingsPerSecond);
                withArchive = RunAsync(batches, readings, archive: true).GetAwaiter().GetResult();
            }
            else
            {
                withArchive = RunAsync(batches, readings, archive: true).GetAwaiter().GetResult();
                without.Add(RunAsync(batches, readings, archive: false).GetAwaiter().GetResult().ReadingsPerSecond);
            }

            if (last is not null)
            {
                ScratchDirectory.DeleteQuietly(Path.GetDirectoryName(last.Root)!);
            }

            last = withArchive;
            with.Add(last.ReadingsPerSecond);
            ratios.Add(with[^1] / without[^1]);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  round {round + 1}: without {without[^1]:N0}/s, with {with[^1]:N0}/s, ratio {ratios[^1]:0.000} ({last.Rows:N0} rows in {last.Files} files, {last.Root})"));
        }

        Console.WriteLine($"archive: per-site daily aggregate over {last!.Rows:N0} rows...");
        var querySeconds = QueryAsync(last.Root).GetAwaiter().GetResult();
        var files = Directory.EnumerateFiles(last.Root, "*" + ArchiveLayout.Extension, SearchOption.AllDirectories).Select(f => new FileInfo(f).Length).ToArray();

        Console.WriteLine($"archive: crash scenario with the archive on, {killDevices} fan devices x {killReadings:N0} readings, 2 SIGKILLs...");
        var crash = CrashScenario.RunAsync(
            new CrashOptions("embedded", Kills: 2, Devices: killDevices, ReadingsPerDevice: killReadings, Kind: DeviceKind.Fan, Timeout: TimeSpan.FromMinutes(10), Archive: true),
            Console.WriteLine).GetAwaiter().GetResult();
        ScratchDirectory.DeleteQuietly(Path.GetDirectoryName(last.Root)!);

        var withRate = Rounds.Median(with);
        var withoutRate = Rounds.Median(without);
        var result = new Dictionary<string, object?>
        {
            ["archive_readings_per_s"] = Math.Round(withRate),
            ["no_archive_readings_per_s"] = Math.Round(withoutRate),
            ["ratio_to_no_archive"] = Math.Round(Rounds.Median(ratios), 3),
            ["rounds"] = rounds,
            ["warmup_readings"] = warmup,
            ["sensors"] = sensors,
            ["readings"] = readings,
            ["rows"] = last.Rows,
            ["files"] = files.Length,
            ["mean_file_mb"] = files.Length == 0 ? 0 : Math.Round(files.Average() / 1048576.0, 2),
            ["bytes_per_row"] = last.Rows == 0 ? 0 : Math.Round(files.Sum() / (double)last.Rows, 1),
            ["query_seconds"] = Math.Round(querySeconds, 3),
            ["kill_published"] = crash.Published,
            ["kill_streams"] = killDevices * 2,
            ["kills"] = crash.Kills,
            ["kill_archive_rows"] = crash.Archive?.Rows,
            ["missing_rows"] = crash.Archive?.Missing,
            ["duplicate_rows"] = crash.Archive?.Duplicates,
            ["missing_alerts"] = crash.Archive?.AlertsMissing,
            ["duplicate_alerts"] = crash.Archive?.AlertDuplicates,
            ["kill_scored_exactly_once"] = crash.Exact,
            ["peak_working_set_mb"] = Math.Round(Process.GetCurrentProcess().PeakWorkingSet64 / 1048576.0, 1),
        };
        Console.WriteLine(JsonSerializer.Serialize(result));
        return crash.Exact && crash.Archive is { Exact: true } ? 0 : 1;
    }

    private sealed record RoundResult(double ReadingsPerSecond, long Rows, long Files, string Root);

    private static async Task<RoundResult> RunAsync(Reading[][] batches, int readings, bool archive)
    {
        var work = ScratchDirectory.Create("anomaly-actors-bench-archive");
        var root = Path.Combine(work, "archive");
        var overrides = ConfigurationFactory.ParseString($$"""
            anomaly-actors {
              data-dir = "{{Path.Combine(work, "data")}}"
              alerts.console = off
              # The dashboard stays on, as users run it, on any free port.
              web.port = 0
              mqtt.enabled = off
              archive.enabled = {{(archive ? "on" : "off")}}
              archive.root = "{{root}}"
            }
            akka.loglevel = WARNING
            """);
        var host = await AnomalyHost.StartAsync(overrides, systemName: archive ? "bench-archive" : "bench-plain");
        try
        {
            var pending = new Queue<Task<object>>();
            var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
            var gen2Before = GC.CollectionCount(2);
            var pausedBefore = GC.GetTotalPauseDuration();
            var stopwatch = Stopwatch.StartNew();
            for (var b = 0; b < batches.Length; b++)
            {
                pending.Enqueue(host.Node.IngestAsync(new IngestReadings("bench", b, batches[b]), TimeSpan.FromMinutes(5)));
                if (pending.Count >= 4)
                {
                    Check(await pending.Dequeue());
                }
            }

            while (pending.Count > 0)
            {
                Check(await pending.Dequeue());
            }

            var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(5);
            while (host.Node.Metrics.ReadingsScored < readings)
            {
                if (DateTime.UtcNow > deadline)
                {
                    throw new InvalidOperationException($"only {host.Node.Metrics.ReadingsScored:N0} of {readings:N0} readings were scored in time");
                }

                await Task.Delay(1);
            }

            var scored = stopwatch.Elapsed;

            // With the archive, done means in visible files: the stop collects the rest and commits it.
            await host.StopAsync();
            var elapsed = stopwatch.Elapsed;
            var cpu = Process.GetCurrentProcess().TotalProcessorTime - cpuBefore;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  {(archive ? "with" : "without")} the archive: scored in {scored.TotalSeconds:0.00} s, stopped{(archive ? " with every row committed" : string.Empty)} at {elapsed.TotalSeconds:0.00} s; CPU {cpu.TotalMicroseconds / readings:0.00} us per reading, {GC.CollectionCount(2) - gen2Before} full collections, {(GC.GetTotalPauseDuration() - pausedBefore).TotalSeconds:0.00} s paused"));
            var rows = host.LocalArchive?.RowsCommitted ?? 0;
            var files = host.LocalArchive?.FilesCommitted ?? 0;
            if (archive)
            {
                ScratchDirectory.DeleteQuietly(Path.Combine(work, "data"));
            }
            else
            {
                ScratchDirectory.DeleteQuietly(work);
            }

            return new RoundResult(readings / elapsed.TotalSeconds, rows, files, root);
        }
        finally
        {
            await host.DisposeAsync();
        }
    }

    /// <summary>A per-site daily aggregate, as an analyst's first question, through the query engine users get.</summary>
    private static async Task<double> QueryAsync(string root)
    {
        using var query = ArchiveQuery.Open(root, ["enriched", "alerts"]);
        var stopwatch = Stopwatch.StartNew();
        var result = await query.RunAsync(
            "SELECT site, date, count(*) AS readings, sum(anomaly::int) AS anomalous, avg(value) AS mean, max(score) AS peak FROM enriched GROUP BY ALL ORDER BY ALL",
            TimeSpan.FromMinutes(5));
        var seconds = stopwatch.Elapsed.TotalSeconds;
        Console.WriteLine($"  {result.Rows.Count} site-days in {seconds:0.000} s");
        return seconds;
    }

    private static void Check(object reply)
    {
        if (reply is not ReadingsAccepted)
        {
            throw new InvalidOperationException($"Batch not accepted: {reply}");
        }
    }

    /// <summary>Seeded demo-sensor readings (10-20, 1 % spikes of 100-120), round-robin over the sensors, a second apart per sensor.</summary>
    private static Reading[][] Batches(int sensors, int readings, int batchSize)
    {
        var random = new Random(42);
        var keys = Enumerable.Range(0, sensors).Select(i => string.Create(CultureInfo.InvariantCulture, $"site-{i % 4}/device-{i}/value")).ToArray();
        var start = new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds();
        var all = new Reading[readings];
        for (var i = 0; i < readings; i++)
        {
            var value = random.NextDouble() < 0.01 ? 100 + random.Next(21) : 10 + random.Next(11);
            all[i] = new Reading(keys[i % sensors], start + ((long)(i / sensors) * 1000), value);
        }

        return all.Chunk(batchSize).ToArray();
    }
}
