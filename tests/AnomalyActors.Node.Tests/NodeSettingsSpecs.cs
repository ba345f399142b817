using Akka.Configuration;
using AnomalyActors.Node.Hosting;
using AnomalyActors.Node.Settings;
using Xunit;

namespace AnomalyActors.Node.Tests;

public sealed class NodeSettingsSpecs
{
    [Fact]
    public void Should_put_the_shipped_output_files_in_the_data_directory()
    {
        var (config, source) = NodeConfig.Load(ConfigurationFactory.ParseString("anomaly-actors.data-dir = \"/data\""));

        var settings = NodeSettings.FromConfig(config, source);

        Assert.Equal(Path.Combine("/data", "dead-letters.jsonl"), settings.DeadLetters.FilePath);
        Assert.Equal(Path.Combine("/data", "alerts.jsonl"), settings.Alerts.FilePath);
    }
}
