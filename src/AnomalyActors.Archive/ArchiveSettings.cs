using Akka.Configuration;
using AnomalyActors.Core.Configuration;

namespace AnomalyActors.Archive;

/// <summary>The <c>anomaly-actors.archive</c> section (and the site's name), parsed once.</summary>
/// <param name="Root">The archive's root directory (shared storage when several nodes or sites write).</param>
/// <param name="Site">This site's name: the first part of every source name this node writes.</param>
/// <param name="Source">This node's source name in the archive without Kafka; null for the default (machine and data directory).</param>
/// <param name="LogDirectory">The node's result logs, in its data directory.</param>
public sealed record ArchiveSettings(
    bool Enabled,
    string Root,
    string Site,
    string? Source,
    string LogDirectory,
    ArchiveOptions Options,
    TimeSpan IdlePoll,
    TimeSpan QueryTimeout)
{
    public const string Path = "anomaly-actors.archive";

    /// <param name="siteName">The site's name as the node's settings read and checked it.</param>
    public static ArchiveSettings FromConfig(Config root, string dataDirectory, string siteName, ConfigOrigin origin)
    {
        var c = new SettingsReader(root, Path, origin);

        var source = c.OptionalText("source");
        if (source is not null && !ArchiveLayout.IsValidName(source))
        {
            throw c.Invalid("source", source, "1-120 letters, digits, '.', '_' or '-', not starting with '.' (or empty for the default)");
        }

        var archiveRoot = c.OptionalText("root") ?? System.IO.Path.Combine(dataDirectory, "archive");
        return new ArchiveSettings(
            c.Flag("enabled", false),
            System.IO.Path.GetFullPath(archiveRoot),
            siteName,
            source,
            System.IO.Path.Combine(dataDirectory, "archive-log"),
            new ArchiveOptions(
                c.Long("roll-size-mb", 1) * 1024 * 1024,
                c.PositiveDuration("roll-age"),
                c.Int("row-group-rows", 1024, 10_000_000),
                c.Int("retention-days", 0, 100_000)),
            c.PositiveDuration("idle-poll"),
            c.PositiveDuration("query-timeout"));
    }
}
