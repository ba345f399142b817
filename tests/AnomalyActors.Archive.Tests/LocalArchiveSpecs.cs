using AnomalyActors.Archive.Collecting;
using AnomalyActors.Core.Events;
using AnomalyActors.Core.Results;
using AnomalyActors.Core.State;
using AnomalyActors.Testing;
using Xunit;

namespace AnomalyActors.Archive.Tests;

public sealed class LocalArchiveSpecs
{
    private static readonly long Start = new DateTimeOffset(2026, 12, 6, 23, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds();

    private static readonly ArchiveOptions Rolls = new(RollBytes: 64 * 1024, RollAge: TimeSpan.FromMinutes(10), RowGroupRows: 500);

    /// <summary>Readings of one stream every minute from 23:00, so that they cross midnight.</summary>
    private static PublishScored Scored(string stream, long from, int count) => new(
        stream,
        "ewma@0000abcd",
        Enumerable.Range(0, count).Select(i =>
        {
            var offset = from + i;
            var anomalous = offset % 40 == 0;
            return new ScoredReading(offset, Start + (offset * 60_000), offset, offset - 0.5, offset - 2, offset + 2, anomalous ? 0.95 : 0.1, anomalous, anomalous ? 3 : 0);
        }).ToArray());

    private static void RecordScored(LocalArchive archive, PublishScored scored) => archive.Record(scored.SensorId, scored.Detector, scored.Readings);

    private static Task<LocalArchive> StartAsync(string root, string logs, string source) =>
        LocalArchive.StartAsync(root, logs, source, Rolls, TimeSpan.FromMilliseconds(10), e => throw new InvalidOperationException("collecting failed", e));

    [Fact]
    public async Task Should_archive_every_recorded_reading_and_alert_once_it_stops()
    {
        // Arrange
        var root = ScratchDirectory.Create("anomaly-actors-archive");
        var logs = ScratchDirectory.Create("anomaly-actors-archive-logs");
        var archive = await StartAsync(root, logs, "local.node-1");

        // Act
        for (var batch = 0; batch < 20; batch++)
        {
            RecordScored(archive, Scored("plant/fan-1/rpm", batch * 100, 100));
            RecordScored(archive, Scored("plant/fan-2/rpm", batch * 100, 100));
            archive.Flush();
        }

        archive.Record(new EpisodeOpened("plant/fan-1/rpm", 3, 40, Start + (40 * 60_000), 40, 0.95));
        archive.Record(new EpisodeClosed("plant/fan-1/rpm", 3, 45, Start + (45 * 60_000), 1, 0.95));
        await archive.DisposeAsync();

        // Assert
        using var query = ArchiveQuery.Open(root, ["enriched", "alerts"]);
        var totals = (await query.RunAsync("SELECT count(*), count(DISTINCT (device, \"offset\")), count(DISTINCT date), sum(anomaly::int), min(detector) FROM enriched", TimeSpan.FromMinutes(1))).Rows.Single();
        Assert.Equal([4000L, 4000L, 3L, 100L, "ewma@0000abcd"], totals.Select(v => v is System.Numerics.BigInteger b ? (object)(long)b : v));
        var alerts = (await query.RunAsync("SELECT alert_id, type, severity, value, grade, out_of_band_readings FROM alerts ORDER BY \"offset\"", TimeSpan.FromMinutes(1))).Rows;
        Assert.Equal(["plant/fan-1/rpm#3", "open", "critical", 40.0, 0.95, null], alerts[0]);
        Assert.Equal(["plant/fan-1/rpm#3", "close", "cleared", null, 0.95, 1L], alerts[1]);
        Assert.Equal(4002, archive.RowsCommitted);
    }

    [Fact]
    public async Task Should_write_again_from_its_log_what_a_crash_left_uncommitted()
    {
        // Arrange: a node recorded 3,000 readings, committed in a roll, then 500 more that went
        // into a roll under way; it dies without stopping.
        var root = ScratchDirectory.Create("anomaly-actors-archive");
        var logs = ScratchDirectory.Create("anomaly-actors-archive-logs");
        var first = await StartAsync(root, logs, "local.node-1");
        RecordScored(first, Scored("plant/fan-1/rpm", 0, 3000));
        first.Flush();
        await AwaitAsync(() => first.RowsCommitted == 3000);
        RecordScored(first, Scored("plant/fan-1/rpm", 3000, 500));
        first.Flush();
        await Task.Delay(200);
        await first.HaltAsync();
        Assert.Equal(3000, first.RowsCommitted);

        // Act: after the restart its sensor scores the readings after its snapshot (3,300) again.
        await using (var again = await StartAsync(root, logs, "local.node-1"))
        {
            RecordScored(again, Scored("plant/fan-1/rpm", 3300, 300));
            again.Flush();
        }

        // Assert
        using var query = ArchiveQuery.Open(root, ["enriched"]);
        var totals = (await query.RunAsync("SELECT count(*), count(DISTINCT \"offset\"), max(\"offset\") FROM enriched", TimeSpan.FromMinutes(1))).Rows.Single();
        Assert.Equal([3600L, 3600L, 3599L], totals);
        Assert.Empty(Directory.EnumerateFiles(root, ".*", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task Should_share_one_root_between_nodes_of_two_sites()
    {
        var root = ScratchDirectory.Create("anomaly-actors-archive");
        var nodes = new[] { ("east", "east.node-1"), ("east", "east.node-2"), ("west", "west.node-1") };
        foreach (var (site, source) in nodes)
        {
            await using var archive = await StartAsync(root, ScratchDirectory.Create("anomaly-actors-archive-logs"), source);
            RecordScored(archive, Scored($"{site}/pump-{source[^1]}/flow", 0, 1000));
            archive.Flush();
        }

        using var query = ArchiveQuery.Open(root, ["enriched"]);
        var perSite = (await query.RunAsync("SELECT site, count(*), count(DISTINCT device) FROM enriched GROUP BY site ORDER BY site", TimeSpan.FromMinutes(1))).Rows;
        Assert.Equal(["east", 2000L, 2L], perSite[0]);
        Assert.Equal(["west", 1000L, 1L], perSite[1]);
    }

    [Fact]
    public async Task Should_refuse_a_log_that_ends_before_what_the_archive_has()
    {
        // Another node's data directory (or a wiped one) under a source the root knows further.
        var root = ScratchDirectory.Create("anomaly-actors-archive");
        await using (var archive = await StartAsync(root, ScratchDirectory.Create("anomaly-actors-archive-logs"), "local.node-1"))
        {
            RecordScored(archive, Scored("plant/fan-1/rpm", 0, 100));
            archive.Flush();
        }

        var foreign = ScratchDirectory.Create("anomaly-actors-archive-logs");
        using (var log = ResultLog.Open(Path.Combine(foreign, "enriched")))
        {
            log.Append([1, 2, 3]);
        }

        var error = await Assert.ThrowsAsync<InvalidDataException>(() => StartAsync(root, foreign, "local.node-1"));
        Assert.Contains("another source", error.Message);
    }

    private static async Task AwaitAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "timed out");
            await Task.Delay(20);
        }
    }
}
