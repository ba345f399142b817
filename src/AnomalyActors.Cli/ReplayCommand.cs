using System.Diagnostics;
using System.Globalization;
using AnomalyActors.Core.Configuration;
using AnomalyActors.Core.Commands;
using AnomalyActors.Core.Protocol;
using AnomalyActors.Host;
using AnomalyActors.Core.DeadLetters;
using AnomalyActors.Ingestion.Intake;
using AnomalyActors.Ingestion.Replay;

namespace AnomalyActors.Cli;

/// <summary><c>replay FILE</c>: a CSV through the durable intake as fast as it goes, episodes printed, a summary at the end.</summary>
internal static class ReplayCommand
{
    public static readonly CommandSpec Spec = new(
        "replay",
        "Feed a CSV file through the node's intake as fast as possible, print each episode and a summary.",
        "FILE",
        "timestamp,value (NAB: one stream named after the file) or timestamp,sensor,parameter,value (Array of Things: stream sensor_parameter).",
        [
            new("format", "auto|nab|aot", "File layout (default auto: from the header)."),
            new("detector", "NAME", "Score every stream with this detector of the config (e.g. ewma, rcf, rcf-likelihood) instead of the configured defaults."),
            new("batch", "N", "Readings per intake batch (default 10000)."),
            .. NodeOptions.Specs,
        ]);

    public static async Task<int> ExecuteAsync(ParsedArguments args, CancellationToken stopping)
    {
        var file = args.Argument ?? throw new UsageException("replay needs a FILE");
        if (!File.Exists(file))
        {
            throw new UsageException($"file '{file}' does not exist");
        }

        var format = args.Choice("format", ReplayFormat.Auto, new Dictionary<string, ReplayFormat>
        {
            ["auto"] = ReplayFormat.Auto,
            ["nab"] = ReplayFormat.Nab,
            ["aot"] = ReplayFormat.ArrayOfThings,
        });
        var batchSize = args.Int("batch", 10_000, minimum: 1, maximum: 10_000_000);
        // A batch job: no broker, and no dashboard to hold a port a running node may need.
        var extra = new List<string> { "anomaly-actors.mqtt.enabled = off", "anomaly-actors.web.enabled = off" };
        if (args.Text("detector") is { } detector)
        {
            extra.Add($"anomaly-actors.detection.default = [{HoconText.Quote(detector)}]");
            extra.Add("anomaly-actors.detection.overrides = []");
        }

        // A replay starts from nothing unless told where to keep its state: a fresh folder, removed afterwards.
        string? scratch = null;
        if (args.Text("data-dir") is null)
        {
            scratch = Path.Combine(Path.GetTempPath(), $"anomaly-actors-replay-{Guid.NewGuid():N}");
            extra.Add($"anomaly-actors.data-dir = {HoconText.Quote(scratch)}");
        }

        var (overrides, hocon) = NodeOptions.From(args, [.. extra]);
        var settings = AnomalyActorsSettings.Load(overrides, hocon);
        var archive = settings.Archive;
        if (scratch is not null && archive.Enabled && archive.Root.StartsWith(scratch, StringComparison.Ordinal))
        {
            throw new UsageException("the archive is on but its root would be inside the replay's scratch data directory, which is removed afterwards: give --archive DIR (or --data-dir DIR)");
        }

        var total = CountLines(file) - 1;
        var stopwatch = Stopwatch.StartNew();
        long sent = 0, bad = 0;
        var streams = new HashSet<string>(StringComparer.Ordinal);
        try
        {
            await using var host = await AnomalyHost.StartAsync(settings);
            var metrics = host.Node.Metrics;
            var scoredBefore = metrics.ReadingsScored;
            var intake = host.Intake;
            var sequence = new SourceSequence();
            var source = $"replay:{Path.GetFileName(file)}";
            using var status = new StatusLine();
            var progress = new Progress(total, status);
            var batch = new List<Reading>(batchSize);
            stopwatch.Restart();

            async Task FlushAsync()
            {
                if (batch.Count == 0)
                {
                    return;
                }

                var command = new IngestReadings(source, sequence.Next(), batch.ToArray());
                while (true)
                {
                    var (durable, failure) = await intake.IngestAsync(command);
                    if (durable)
                    {
                        break;
                    }

                    status.Line($"Intake did not store a batch ({failure}); retrying");
                    await Task.Delay(TimeSpan.FromSeconds(1), stopping);
                }

                sent += batch.Count;
                batch.Clear();
                progress.Report(sent + bad, metrics.ReadingsScored - scoredBefore, stopwatch.Elapsed);
            }

            foreach (var row in CsvReplayReader.Read(file, format))
            {
                stopping.ThrowIfCancellationRequested();
                if (!row.Ok)
                {
                    bad++;
                    host.Node.DeadLetters?.Write(new DeadLetter(source, Path.GetFileName(file), row.Reason, row.Detail,
                        System.Text.Encoding.UTF8.GetBytes(row.Raw), DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()));
                    continue;
                }

                streams.Add(row.Reading.StreamKey);
                batch.Add(row.Reading);
                if (batch.Count >= batchSize)
                {
                    await FlushAsync();
                }
            }

            await FlushAsync();

            // Durable is not yet scored: wait for the sensors to get through everything.
            while (metrics.ReadingsScored - scoredBefore < sent)
            {
                stopping.ThrowIfCancellationRequested();
                await Task.Delay(50, stopping);
                progress.Report(sent + bad, metrics.ReadingsScored - scoredBefore, stopwatch.Elapsed);
            }

            var elapsed = stopwatch.Elapsed;
            progress.Done(sent + bad, metrics.ReadingsScored - scoredBefore, elapsed);
            // Episode events are persisted after scoring; the graceful stop lets every sensor finish
            // them, and the archive commits what it holds.
            await host.StopAsync();
            if (host.LocalArchive is { } archived)
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"Archived {archived.RowsCommitted:N0} rows in {archived.FilesCommitted:N0} file(s) under {archive.Root} (source {archived.Source})"));
            }

            var opened = metrics.EpisodesOpened;
            var closed = metrics.EpisodesClosed;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"Replayed {Path.GetFileName(file)}: {sent:N0} readings, {streams.Count:N0} stream(s), {opened:N0} episode(s) ({closed:N0} closed), {bad:N0} bad line(s){(bad > 0 && host.Node.DeadLetters is { } dl ? $" (see {dl.FilePath})" : string.Empty)}, {elapsed.TotalSeconds:0.00} s, {sent / Math.Max(elapsed.TotalSeconds, 1e-3):N0} readings/s"));
            return ExitCodes.Ok;
        }
        catch (FormatException e)
        {
            Console.Error.WriteLine($"anomaly-actors replay: {e.Message}");
            return ExitCodes.Failure;
        }
        finally
        {
            if (scratch is not null && Directory.Exists(scratch))
            {
                Directory.Delete(scratch, recursive: true);
            }
        }
    }

    private static long CountLines(string file)
    {
        long lines = 0;
        foreach (var _ in File.ReadLines(file))
        {
            lines++;
        }

        return lines;
    }

    /// <summary>
    /// Progress on standard error: the status line of a terminal (alerts print above it, never into
    /// it), or a line per 10% when redirected.
    /// </summary>
    private sealed class Progress(long total, StatusLine status)
    {
        private int _lastDecile = -1;
        private DateTime _lastDraw;

        public void Report(long read, long scored, TimeSpan elapsed, bool force = false)
        {
            var fraction = total <= 0 ? 1 : Math.Min(1, (double)read / total);
            if (status.IsTerminal)
            {
                if (force || DateTime.UtcNow - _lastDraw > TimeSpan.FromMilliseconds(200))
                {
                    _lastDraw = DateTime.UtcNow;
                    status.Show(Describe(read, scored, elapsed));
                }
            }
            else if ((int)(fraction * 10) is var decile && (decile > _lastDecile || force))
            {
                _lastDecile = decile;
                Console.Error.WriteLine(Describe(read, scored, elapsed));
            }
        }

        /// <summary>The true totals, whatever was drawn last, left on a line of their own.</summary>
        public void Done(long read, long scored, TimeSpan elapsed)
        {
            if (status.IsTerminal)
            {
                status.Dispose();
                Console.Error.WriteLine(Describe(read, scored, elapsed));
            }
            else
            {
                Report(read, scored, elapsed, force: true);
            }
        }

        private string Describe(long read, long scored, TimeSpan elapsed)
        {
            var fraction = total <= 0 ? 1 : Math.Min(1, (double)read / total);
            var rate = scored / Math.Max(elapsed.TotalSeconds, 1e-3);
            return string.Create(CultureInfo.InvariantCulture, $"{read:N0}/{total:N0} lines ({fraction:P0}), {scored:N0} scored, {rate:N0} readings/s");
        }
    }
}
