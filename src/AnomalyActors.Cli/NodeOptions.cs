using System.Globalization;
using System.Text;
using Akka.Configuration;
using AnomalyActors.Core.Configuration;

namespace AnomalyActors.Cli;

/// <summary>Options every node-starting command shares, turned into HOCON overrides.</summary>
internal static class NodeOptions
{
    public static readonly OptionSpec[] Specs =
    [
        new("config", "DIR", "Folder with anomaly-actors.conf and akka.conf (default: the hocon folder shipped with the program)."),
        new("data-dir", "DIR", "Where the SQLite database, alerts.jsonl and dead-letters.jsonl go (default from the config: ./data)."),
        new("persistence", "NAME", "sqlite (default), postgresql (set ANOMALY_ACTORS_POSTGRES) or none."),
        new("archive", "DIR", "Collect enriched readings and alerts into a Parquet archive under DIR (anomaly-actors.archive; query it with query and describe)."),
        new("verbose", null, "Show Akka's informational log lines."),
    ];

    public static (Config Overrides, string? HoconDirectory) From(ParsedArguments args, params string[] extra)
    {
        var hocon = new StringBuilder();
        if (args.Text("data-dir") is { } dataDir)
        {
            hocon.AppendLine(CultureInfo.InvariantCulture, $"anomaly-actors.data-dir = {HoconText.Quote(Path.GetFullPath(dataDir))}");
        }

        if (args.Text("archive") is { } archive)
        {
            hocon.AppendLine("anomaly-actors.archive.enabled = on");
            hocon.AppendLine(CultureInfo.InvariantCulture, $"anomaly-actors.archive.root = {HoconText.Quote(Path.GetFullPath(archive))}");
        }

        if (args.Text("persistence") is { } persistence)
        {
            if (persistence is not ("sqlite" or "postgresql" or "none"))
            {
                throw new UsageException($"option '--persistence' must be sqlite, postgresql or none, not '{persistence}'");
            }

            hocon.AppendLine(CultureInfo.InvariantCulture, $"anomaly-actors.persistence.provider = {persistence}");
        }

        if (!args.Flag("verbose") && Environment.GetEnvironmentVariable("ANOMALY_ACTORS_LOGLEVEL") is null)
        {
            // Alerts and the status line are the output; Akka's start-up chatter is not.
            hocon.AppendLine("akka.loglevel = WARNING");
        }

        // The command handles Ctrl+C and SIGTERM itself and stops sources before the node. Akka's
        // own process-exit hook fires on those signals too and would stop the node underneath the
        // MQTT drain (its last batches then never became durable and the stop took 20 s).
        hocon.AppendLine("akka.coordinated-shutdown.run-by-clr-shutdown-hook = off");

        foreach (var line in extra)
        {
            hocon.AppendLine(line);
        }

        return (ConfigurationFactory.ParseString(hocon.ToString()), ConfigDirectory(args));
    }

    /// <summary>The folder <c>--config</c> names, as a full path (null: the shipped one); a missing folder is a usage error.</summary>
    public static string? ConfigDirectory(ParsedArguments args)
    {
        var directory = args.Text("config");
        if (directory is not null && !Directory.Exists(directory))
        {
            throw new UsageException($"option '--config': folder '{directory}' does not exist");
        }

        return directory is null ? null : Path.GetFullPath(directory);
    }
}
