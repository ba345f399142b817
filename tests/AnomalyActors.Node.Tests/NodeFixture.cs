using Akka.Configuration;
using AnomalyActors.Core.Commands;
using AnomalyActors.Node.Hosting;

namespace AnomalyActors.Node.Tests;

/// <summary>Builds node configurations on a fresh data directory and drives batches through a node.</summary>
public static class NodeFixture
{
    public static string NewDataDirectory()
    {
        var dir = Path.Combine(Path.GetTempPath(), "anomaly-actors-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return dir;
    }

    public static Config Overrides(string dataDirectory, string provider = "sqlite", string? postgres = null, int partitions = 4, int snapshotEvery = 2000) =>
        ConfigurationFactory.ParseString($$"""
            anomaly-actors {
              data-dir = "{{dataDirectory.Replace("\\", "/")}}"
              persistence.provider = {{provider}}
              persistence.postgresql.connection-string = "{{postgres ?? string.Empty}}"
              intake.partitions = {{partitions}}
              intake.trim-interval = 200ms
              sensor.snapshot-every-readings = {{snapshotEvery}}
              sensor.snapshot-interval = 1s
              alerts.console = off
            }
            akka.loglevel = WARNING
            """);

    /// <summary>Feeds batches [from, to) one after another, each acknowledged before the next.</summary>
    public static async Task FeedAsync(AnomalyNode node, TestInput input, int from, int to, string source = "test-source")
    {
        for (var b = from; b < to; b++)
        {
            var reply = await node.IngestAsync(new IngestReadings(source, b, input.Batches[b]));
            if (reply is not ReadingsAccepted)
            {
                throw new InvalidOperationException($"Batch {b} was not accepted: {reply}");
            }
        }
    }

    /// <summary>Waits (polling, no fixed sleep) until the condition holds or the timeout passes.</summary>
    public static async Task AwaitAsync(Func<bool> condition, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Timed out waiting for {what}.");
            }

            await Task.Delay(20);
        }
    }
}
