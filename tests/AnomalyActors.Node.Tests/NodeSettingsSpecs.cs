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

public sealed class NodeTotalsSpecs
{
    [Fact]
    public async Task Should_report_totals_since_the_data_directory_was_created_across_restarts()
    {
        // Arrange: two runs on one data directory
        var config = AnomalyActors.TestNode.TestNodeConfig.For(NodeFixture.NewDataDirectory(), snapshotEvery: 40);
        var input = new AnomalyActors.TestNode.TestInput(sensors: 10, readingsPerSensor: 300, batchSize: 500);
        var first = await AnomalyNode.StartAsync(config, systemName: "first");
        await NodeFixture.FeedAsync(first, input, 0, 3);
        await NodeFixture.AwaitAsync(() => first.Metrics.ReadingsScored == 1500, TimeSpan.FromSeconds(60), "the first run scored");
        // Alarms arm after 100 of a stream's 150 readings here, so its alerts come at the end of the
        // run, and the sink writes them after the readings are scored.
        await NodeFixture.AwaitAsync(() => first.Metrics.AlertLines > 0, TimeSpan.FromSeconds(30), "the first run wrote alerts");
        await first.StopAsync();

        // Act
        var second = await AnomalyNode.StartAsync(config, systemName: "second");
        await NodeFixture.FeedAsync(second, input, 3, input.Batches.Length);
        await NodeFixture.AwaitAsync(() => second.Metrics.ReadingsScored == 1500, TimeSpan.FromSeconds(60), "the second run scored");
        var totals = await second.TotalsAsync();
        var lines = NodeFixture.AlertLines(second.Settings.DataDirectory).Length;
        await second.StopAsync();

        // Assert: this run counts its own half; the totals count both
        Assert.Equal(1500, second.Metrics.ReadingsScored);
        Assert.Equal(3000, totals.ReadingsStored);
        Assert.Equal(lines, totals.AlertLines);
    }
}
