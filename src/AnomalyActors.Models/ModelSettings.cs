using Akka.Configuration;
using AnomalyActors.Archive;
using AnomalyActors.Core.Configuration;

namespace AnomalyActors.Models;

/// <summary>The <c>anomaly-actors.models</c> section, parsed once.</summary>
/// <param name="Enabled">Whether the node takes the published global model.</param>
/// <param name="Root">Where models are published (<c>Root/_models</c>): the shared archive root by default.</param>
/// <param name="LocalDirectory">The node's verified copies, in its data directory: what it uses while the shared root is out of reach.</param>
/// <param name="PollInterval">How often the node looks for a new current version.</param>
public sealed record ModelSettings(bool Enabled, string Root, string LocalDirectory, TimeSpan PollInterval)
{
    public const string Path = "anomaly-actors.models";

    public static ModelSettings FromConfig(Config root, string dataDirectory, ArchiveSettings archive, ConfigOrigin origin)
    {
        var c = new SettingsReader(root, Path, origin);
        return new ModelSettings(
            c.Flag("enabled", true),
            System.IO.Path.GetFullPath(c.OptionalText("root") ?? archive.Root),
            System.IO.Path.Combine(dataDirectory, "models"),
            c.PositiveDuration("poll-interval"));
    }
}
