using Akka.Configuration;

namespace AnomalyActors.TestNode;

/// <summary>
/// The one node configuration of the tests, shared by in-process nodes and the separate test-node
/// process: a node restarted under other detector settings would rightly refuse the snapshots.
/// </summary>
public static class TestNodeConfig
{
    public static Config For(string dataDirectory, string provider = "sqlite", string? postgres = null, int partitions = 4, int snapshotEvery = 2000, bool journalEpisodes = false) =>
        ConfigurationFactory.ParseString($$"""
            anomaly-actors {
              data-dir = "{{dataDirectory.Replace("\\", "/")}}"
              persistence.provider = {{provider}}
              persistence.postgresql.connection-string = "{{postgres ?? string.Empty}}"
              intake.partitions = {{partitions}}
              intake.trim-interval = 200ms
              sensor.snapshot-every-readings = {{snapshotEvery}}
              sensor.snapshot-interval = 1s
              sensor.journal-episodes = {{(journalEpisodes ? "on" : "off")}}
              alerts.console = off
              # Many nodes at once: the dashboard's fixed default port would collide.
              web.port = 0
              # Short series in tests: alarms may start early.
              detection.detectors.ewma.alarm-after = 100
            }
            akka.loglevel = WARNING
            """);
}
