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

public sealed class DataDirectoryLockSpecs
{
    [Fact]
    public async Task Should_hold_the_data_directory_while_a_node_runs_and_free_it_when_it_stops()
    {
        var config = AnomalyActors.TestNode.TestNodeConfig.For(NodeFixture.NewDataDirectory());
        var first = await AnomalyNode.StartAsync(config, systemName: "first");

        var second = await Record.ExceptionAsync(() => AnomalyNode.StartAsync(config, systemName: "second"));
        await first.StopAsync();
        await first.System.WhenTerminated;
        var third = await AnomalyNode.StartAsync(config, systemName: "third");
        await third.StopAsync();

        Assert.IsType<DataDirectoryInUseException>(second);
        Assert.Contains($"process {Environment.ProcessId}", second.Message);
    }
}
