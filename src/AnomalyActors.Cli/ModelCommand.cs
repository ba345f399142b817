using System.Globalization;
using System.Text;
using AnomalyActors.Archive;
using AnomalyActors.Core.Models;
using AnomalyActors.Host;
using AnomalyActors.Models;

namespace AnomalyActors.Cli;

/// <summary>
/// <c>models</c>, <c>model [VERSION]</c> and <c>rollback [VERSION]</c>: the global models published
/// under the archive root (<c>ARCHIVE/_models</c>), each verified against its manifest before it is
/// shown or made current.
/// </summary>
internal static class ModelCommand
{
    public static readonly OptionSpec ArchiveOption =
        new("archive", "DIR", "The archive root every site shares (default: anomaly-actors.archive.root of the config, ANOMALY_ACTORS_ARCHIVE_ROOT).");

    public static readonly OptionSpec ConfigOption =
        new("config", "DIR", "Folder with anomaly-actors.conf and akka.conf (default: the hocon folder shipped with the program).");

    public static readonly CommandSpec ListSpec = new(
        "models",
        "List the global models published under the archive root, oldest first: the current one is marked, and one that fails its checks is shown with the reason (exit code 1 if that is the current one).",
        null,
        null,
        [ArchiveOption, ConfigOption]);

    public static readonly CommandSpec ShowSpec = new(
        "model",
        "Show a published global model after verifying it: its manifest (checksum, the readings of each site it was trained on, the previous version) and its stream types.",
        "[VERSION]",
        "A version that models lists (default: the current one).",
        [ArchiveOption, ConfigOption]);

    public static readonly CommandSpec RollbackSpec = new(
        "rollback",
        "Make an earlier published global model current again, after verifying it; every site's node takes it up at its next poll.",
        "[VERSION]",
        "The version to return to (default: the one that was current when the current one was published).",
        [ArchiveOption, ConfigOption]);

    /// <summary>The archive root: <c>--archive</c>, or the configuration's.</summary>
    public static string ArchiveRoot(ParsedArguments args) =>
        args.Text("archive") is { } given
            ? Path.GetFullPath(given)
            : AnomalyActorsSettings.Load(hoconDirectory: NodeOptions.ConfigDirectory(args)).Archive.Root;

    public static async Task<int> ListAsync(ParsedArguments args)
    {
        if (await StoreAsync(args) is not { } store)
        {
            return ExitCodes.Failure;
        }

        var models = store.List();
        if (models.Count == 0)
        {
            Console.Out.Write($"No model is published in {store.Directory} yet (train publishes one).\n");
            return ExitCodes.Ok;
        }

        var rows = models.Select(m => new object?[]
        {
            m.Version,
            m.Manifest?.Created,
            m.Manifest?.Sites.Count,
            m.Manifest?.Sites.Sum(s => s.Readings),
            m.Manifest is null ? null : m.Manifest.Previous ?? "none",
            m.IsCurrent ? "current" : string.Empty,
            m.Problem is null ? "ok" : "REFUSED",
        }).ToList();
        var output = new StringBuilder(QueryCommand.Table(new QueryResult(["version", "created", "sites", "readings", "previous", "in use", "check"], rows)));
        foreach (var refused in models.Where(m => m.Problem is not null))
        {
            output.Append(CultureInfo.InvariantCulture, $"\n{refused.Problem}\n");
        }

        Console.Out.Write(output.ToString());
        return models.Any(m => m.IsCurrent && m.Problem is not null) ? ExitCodes.Failure : ExitCodes.Ok;
    }

    public static async Task<int> ShowAsync(ParsedArguments args)
    {
        var version = VersionArgument(args);
        if (await StoreAsync(args) is not { } store)
        {
            return ExitCodes.Failure;
        }

        try
        {
            var current = store.ReadCurrent();
            version ??= current ?? throw new ModelRefusedException($"no model is current in {store.Directory} (train publishes one).");
            var (model, manifest) = store.Read(version);
            var output = new StringBuilder();
            output.Append(CultureInfo.InvariantCulture, $"model     {model.Version}{(model.Version == current ? " (current)" : string.Empty)}\n");
            output.Append(CultureInfo.InvariantCulture, $"created   {QueryCommand.Text(manifest.Created)}\n");
            output.Append(CultureInfo.InvariantCulture, $"previous  {manifest.Previous ?? "none"}\n");
            output.Append(CultureInfo.InvariantCulture, $"sha256    {manifest.Sha256} ({manifest.Bytes} bytes, verified)\n");
            output.Append(CultureInfo.InvariantCulture, $"directory {Path.Combine(store.Directory, model.Version)}\n\n");
            output.Append(TypesTable(model)).Append('\n');
            output.Append(SitesTable(manifest.Sites));
            Console.Out.Write(output.ToString());
            return ExitCodes.Ok;
        }
        catch (ModelRefusedException e)
        {
            await Console.Error.WriteLineAsync($"anomaly-actors model: {e.Message}");
            return ExitCodes.Failure;
        }
    }

    public static async Task<int> RollbackAsync(ParsedArguments args)
    {
        var version = VersionArgument(args);
        if (await StoreAsync(args) is not { } store)
        {
            return ExitCodes.Failure;
        }

        try
        {
            var was = store.Rollback(version);
            var now = store.ReadCurrent();
            Console.Out.Write(now == was
                ? $"Model {now} is current already.\n"
                : $"Model {now} is current (was {was}); every site's node takes it up at its next poll.\n");
            return ExitCodes.Ok;
        }
        catch (ModelRefusedException e)
        {
            await Console.Error.WriteLineAsync($"anomaly-actors rollback: {e.Message}");
            return ExitCodes.Failure;
        }
    }

    /// <summary>One row per stream type, in the order a stream is matched against them.</summary>
    public static string TypesTable(GlobalModel model) =>
        QueryCommand.Table(new QueryResult(
            ["type", "covers", "streams", "readings", "half-width", "arm-after", "level p01", "level p50", "level p99"],
            model.Types.Select(t => new object?[]
            {
                t.Name,
                t.Streams?.Pattern ?? $"metric {t.Name}",
                t.TrainedStreams,
                t.TrainedReadings,
                Significant(t.Prior.HalfWidth),
                t.Prior.ArmAfter,
                Significant(t.LevelP01),
                Significant(t.LevelP50),
                Significant(t.LevelP99),
            }).ToList()));

    /// <summary>One row per site: the first and last reading a model was trained on, and how many.</summary>
    public static string SitesTable(IReadOnlyList<SiteRange> sites) =>
        QueryCommand.Table(new QueryResult(
            ["site", "from", "to", "readings"],
            sites.Select(s => new object?[] { s.Site, s.From, s.To, s.Readings }).ToList()));

    /// <summary>Six significant digits: enough to compare models, short enough to read.</summary>
    private static double Significant(double value) =>
        double.Parse(value.ToString("G6", CultureInfo.InvariantCulture), NumberStyles.Float, CultureInfo.InvariantCulture);

    private static string? VersionArgument(ParsedArguments args) =>
        args.Argument is { } version && !GlobalModel.IsValidVersion(version)
            ? throw new UsageException($"'{version}' is not a model version (models lists them)")
            : args.Argument;

    /// <summary>The archive's model store, or null (with the reason printed) when the archive root does not exist.</summary>
    private static async Task<ModelStore?> StoreAsync(ParsedArguments args)
    {
        var root = ArchiveRoot(args);
        if (!Directory.Exists(root))
        {
            await Console.Error.WriteLineAsync($"anomaly-actors {args.Command.Name}: the archive root {root} does not exist (--archive DIR or anomaly-actors.archive.root).");
            return null;
        }

        return ModelStore.InArchive(root);
    }
}
