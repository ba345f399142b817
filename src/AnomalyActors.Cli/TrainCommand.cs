using System.Diagnostics;
using System.Globalization;
using System.Text;
using AnomalyActors.Archive;
using AnomalyActors.Core.Protocol;
using AnomalyActors.Models;

namespace AnomalyActors.Cli;

/// <summary>
/// <c>train</c>: trains the global model from every site's archive, prints what it learned, and
/// publishes it as the current version under the archive root, where every site's node takes it up.
/// </summary>
internal static class TrainCommand
{
    private static readonly TrainOptions Defaults = new();

    public static readonly CommandSpec Spec = new(
        "train",
        "Train the global model from every site's archive (the bands of mature EWMA streams, per stream type) and publish it as the current version under the archive root, where every site's node takes it up.",
        null,
        null,
        [
            ModelCommand.ArchiveOption,
            new("types", "NAME=GLOB,...", "Named stream types, tried in order before the default type (a stream's metric), e.g. boilers=*/boiler-*/temperature. GLOB matches site/device/metric; '*' stays within one part."),
            new("mature-after", "N", $"Leave out each stream's first N readings, while its band was learning (default {Defaults.MatureAfter}: the EWMA band's alarm warm-up)."),
            new("arm-after", "N", $"Readings a young stream waits with its type's band before its alarms are armed (default {Defaults.ArmAfter})."),
            new("min-streams", "N", $"Leave out types with fewer streams: too few to speak for a fleet (default {Defaults.MinStreams})."),
            new("timeout", "SECONDS", $"Cancel the training query after this long (default {Defaults.Timeout.TotalSeconds:0})."),
            new("dry-run", null, "Train and print the model, but do not publish it."),
            ModelCommand.ConfigOption,
        ]);

    public static async Task<int> ExecuteAsync(ParsedArguments args, CancellationToken stopping)
    {
        var options = new TrainOptions
        {
            MatureAfter = args.Long("mature-after", Defaults.MatureAfter, minimum: 0),
            ArmAfter = args.Long("arm-after", Defaults.ArmAfter, minimum: 1),
            MinStreams = args.Int("min-streams", Defaults.MinStreams, minimum: 1),
            Types = Types(args.Text("types")),
            Timeout = TimeSpan.FromSeconds(args.Double("timeout", Defaults.Timeout.TotalSeconds, minimum: 0.1)),
        };
        var root = ModelCommand.ArchiveRoot(args);
        if (!Directory.Exists(root))
        {
            await Console.Error.WriteLineAsync($"anomaly-actors train: the archive root {root} does not exist (--archive DIR or anomaly-actors.archive.root).");
            return ExitCodes.Failure;
        }

        var clock = Stopwatch.StartNew();
        TrainedModel trained;
        try
        {
            trained = await ModelTrainer.TrainAsync(root, options, stopping);
        }
        catch (Exception e) when (e is ModelTrainingException or ArchiveQueryException)
        {
            await Console.Error.WriteLineAsync($"anomaly-actors train: {e.Message}");
            return ExitCodes.Failure;
        }

        var took = clock.Elapsed;
        var output = new StringBuilder();
        output.Append(ModelCommand.TypesTable(trained.Model));
        foreach (var type in trained.LeftOut)
        {
            output.Append(CultureInfo.InvariantCulture, $"Left out {type.Name}: {type.Reason}.\n");
        }

        output.Append('\n').Append(ModelCommand.SitesTable(trained.Sites)).Append('\n');
        Console.Out.Write(output.ToString());
        if (trained.Model.Types.Count == 0)
        {
            await Console.Error.WriteLineAsync($"anomaly-actors train: no stream type has {options.MinStreams} streams with readings past their first {options.MatureAfter}: nothing to publish.");
            return ExitCodes.Failure;
        }

        if (args.Flag("dry-run"))
        {
            Console.Out.Write($"Model {trained.Model.Version} not published (--dry-run).\n");
        }
        else
        {
            try
            {
                var store = ModelStore.InArchive(root);
                var manifest = store.Publish(trained.Model, trained.Sites);
                Console.Out.Write($"Published model {manifest.Version} in {store.Directory} (previous: {manifest.Previous ?? "none"}); every site's node takes it up at its next poll.\n");
            }
            catch (ModelRefusedException e)
            {
                await Console.Error.WriteLineAsync($"anomaly-actors train: {e.Message}");
                return ExitCodes.Failure;
            }
        }

        Console.Out.Write(string.Create(CultureInfo.InvariantCulture, $"trained in {took.TotalSeconds:0.00} s\n"));
        return ExitCodes.Ok;
    }

    /// <summary>Parses <c>NAME=GLOB,NAME=GLOB</c> (the options parser keeps one value per option, so the list is one value).</summary>
    private static IReadOnlyList<NamedStreamType> Types(string? text)
    {
        if (text is null)
        {
            return [];
        }

        var types = new List<NamedStreamType>();
        foreach (var entry in text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var equals = entry.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0 || equals == entry.Length - 1)
            {
                throw new UsageException($"option '--types' takes NAME=GLOB entries separated by commas, not '{entry}'");
            }

            var name = entry[..equals].Trim();
            if (types.Any(t => t.Name == name))
            {
                throw new UsageException($"option '--types' names type '{name}' twice");
            }

            types.Add(new NamedStreamType(name, new StreamGlob(entry[(equals + 1)..].Trim())));
        }

        return types;
    }
}
