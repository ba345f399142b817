using Akka.Configuration;

namespace AnomalyActors.Ingestion.Tests;

/// <summary>The ingestion settings of the shipped hocon/anomaly-actors.conf.</summary>
public static class DefaultFormats
{
    public static IngestionSettings Load()
    {
        var path = Path.Combine(AppContext.BaseDirectory, "hocon", "anomaly-actors.conf");
        var config = ConfigurationFactory.ParseString(File.ReadAllText(path));
        return IngestionSettings.FromConfig(config, path);
    }
}
