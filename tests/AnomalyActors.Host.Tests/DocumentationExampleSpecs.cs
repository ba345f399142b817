using System.Diagnostics;
using Akka.Actor;
using Akka.Configuration;
using AnomalyActors.Core.Queries;
using AnomalyActors.Nab;
using Xunit;

namespace AnomalyActors.Host.Tests;

/// <summary>The commands the documentation shows users work as written.</summary>
public sealed class DocumentationExampleSpecs
{
    private static string RepositoryFile(string name) =>
        Path.Combine(Path.GetDirectoryName(Path.GetDirectoryName(NabCorpus.DefaultRoot()))!, name);

    private static string ExampleIn(string file, string startsWith) =>
        File.ReadLines(RepositoryFile(file)).Select(l => l.TrimStart(' ', '#').Trim()).First(l => l.StartsWith(startsWith, StringComparison.Ordinal));

    [Fact]
    public async Task Should_score_the_reading_of_the_readme_mosquitto_pub_example()
    {
        // Arrange: a node with the shipped configuration in a folder of its own, as the README starts it
        var readme = ExampleIn("README.md", "mosquitto_pub ");
        var folder = HostFixture.NewDataDirectory();
        var port = HostFixture.FreePortNumber();
        var config = ConfigurationFactory.ParseString($$"""
            anomaly-actors.data-dir = "{{Path.Combine(folder, "data")}}"
            anomaly-actors.alerts.console = off
            anomaly-actors.web.port = 0
            anomaly-actors.mqtt.broker.port = {{port}}
            anomaly-actors.mqtt.subscriber.port = {{port}}
            """);
        await using var host = await AnomalyHost.StartAsync(config);

        // Act: the README's command, on this test's port instead of 1883
        var info = new ProcessStartInfo("bash") { WorkingDirectory = folder, RedirectStandardError = true, RedirectStandardOutput = true };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add(readme.Replace("-p 1883", $"-p {port}", StringComparison.Ordinal));
        using var process = Process.Start(info)!;
        var stderr = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();

        // Assert
        Assert.Contains("-p 1883", readme);
        Assert.True(process.ExitCode == 0, $"{readme}: {stderr}");
        await HostFixture.AwaitAsync(
            () => host.Node.Sensors.Ask<SensorStateView>(new GetSensorState("dc1/boiler-7/temperature"), TimeSpan.FromSeconds(5)).Result.ReadingsScored == 1,
            TimeSpan.FromSeconds(30),
            () => "the example's reading");
    }

    [Fact]
    public void Should_show_the_same_working_example_in_the_configuration_comment()
    {
        Assert.Equal(ExampleIn("README.md", "mosquitto_pub "), ExampleIn(Path.Combine("hocon", "anomaly-actors.conf"), "mosquitto_pub "));
    }

    [Fact]
    public void Should_accept_the_readme_notifications_example()
    {
        // The fenced block that starts with the notifications section, as a user would paste it.
        var lines = File.ReadAllLines(RepositoryFile("README.md"));
        var start = Array.FindIndex(lines, l => l.StartsWith("anomaly-actors.notifications {", StringComparison.Ordinal));
        var end = Array.FindIndex(lines, start, l => l == "```");
        Assert.True(start >= 0 && end > start, "README.md has no notifications example");
        Environment.SetEnvironmentVariable("OPS_HOOK_TOKEN", "example-token");
        Environment.SetEnvironmentVariable("OPS_SMTP_PASSWORD", "example-password");
        var (config, source) = Node.Hosting.NodeConfig.Load(ConfigurationFactory.ParseString(string.Join("\n", lines[start..end])));

        var settings = AnomalyActorsSettings.FromConfig(config, source).Notifications;

        Assert.Equal(2, settings.Channels.Count);
        Assert.Equal(2, settings.Routes.Count);
        Assert.Equal(2, settings.Silences.Count);
    }

    [Fact]
    public void Should_accept_the_readme_global_example()
    {
        var lines = File.ReadAllLines(RepositoryFile("README.md"));
        var start = Array.FindIndex(lines, l => l.StartsWith("anomaly-actors.global {", StringComparison.Ordinal));
        var end = Array.FindIndex(lines, start, l => l == "```");
        Assert.True(start >= 0 && end > start, "README.md has no global layer example");
        var (config, source) = Node.Hosting.NodeConfig.Load(ConfigurationFactory.ParseString(string.Join("\n", lines[start..end])));

        var global = AnomalyActorsSettings.FromConfig(config, source).Global;

        Assert.Equal(["dc1", "dc2"], global.Sites.Select(s => s.Name));
        Assert.Equal("enriched", global.Sites[1].EnrichedTopic);
        Assert.Equal(["dc2.alerts", "dc2.enriched"], global.LinkOf(global.Sites[1]).Topics.Select(t => t.Target));
    }
}
