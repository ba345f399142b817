using AnomalyActors.Archive.Collecting;
using AnomalyActors.Core.Protocol;
using AnomalyActors.Core.Results;
using AnomalyActors.Core.State;
using AnomalyActors.Kafka.Testing;
using AnomalyActors.Testing;
using Confluent.Kafka;
using Xunit;

namespace AnomalyActors.Archive.Tests;

public sealed class KafkaArchiveCollectorSpecs : IDisposable
{
    private const string Site = "east";
    private static readonly DateTime Day = new(2026, 12, 6, 0, 0, 0, DateTimeKind.Utc);
    private static readonly ArchiveOptions Quick = new(RollBytes: long.MaxValue, RollAge: TimeSpan.FromMilliseconds(200), RowGroupRows: 1024);
    private readonly MockKafkaCluster _kafka = new(brokers: 1);

    public void Dispose() => _kafka.Dispose();

    /// <summary>Record <paramref name="i"/> of a partition: 20 streams per partition, each with its own readings' offsets.</summary>
    private static byte[] Enriched(int partition, int i)
    {
        var stream = new StreamId(Site, $"p{partition}-device-{i % 20}", "temp");
        var reading = new ScoredReading(i / 20, new DateTimeOffset(Day.AddSeconds(i)).ToUnixTimeMilliseconds(), i, i, i - 1, i + 1, 0.1, false, 0);
        return ResultRecords.EnrichedJson(stream, "ewma:test", reading, Site);
    }

    private async Task ProduceAsync(int partition, int from, int to)
    {
        using var producer = new ProducerBuilder<string?, byte[]>(new ProducerConfig { BootstrapServers = _kafka.BootstrapServers }).Build();
        for (var i = from; i < to; i++)
        {
            producer.Produce(new TopicPartition("enriched", partition), new Message<string?, byte[]> { Key = $"p{partition}-device-{i % 20}", Value = Enriched(partition, i) });
        }

        await Task.Run(() => producer.Flush(TimeSpan.FromSeconds(30)));
    }

    private static async Task AwaitAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "timed out waiting until " + what);
            await Task.Delay(50);
        }
    }

    private static long[] Offsets(string root, string source)
    {
        using var query = ArchiveQuery.Open(root, ["enriched"]);
        var rows = query.RunAsync($"SELECT device, \"offset\" FROM enriched WHERE device LIKE '{source}-%' ORDER BY device, \"offset\"", TimeSpan.FromMinutes(1)).GetAwaiter().GetResult().Rows;
        return rows.Select(r => Convert.ToInt64(r[1], System.Globalization.CultureInfo.InvariantCulture)).ToArray();
    }

    [Fact]
    public async Task Should_collect_a_partition_only_after_its_last_writer_let_its_source_go()
    {
        // Arrange: two partitions of 400 records. Partition 0's source is held by a writer the
        // group has moved on from without its knowing: it committed 0-199 and has 200-299 in a roll.
        _kafka.CreateTopic("enriched", 2);
        _kafka.CreateTopic("alerts", 1);
        await ProduceAsync(0, 0, 400);
        await ProduceAsync(1, 0, 400);
        var root = ScratchDirectory.Create("anomaly-actors-archive");
        var lastWriter = new SourceArchive<EnrichedRow>(root, EnrichedDataset.Instance, $"{Site}.enriched.0", Quick);
        await lastWriter.RecoverAsync();
        for (var i = 0; i < 300; i++)
        {
            await lastWriter.AddAsync(i, KafkaArchiveCollector.ReadEnriched(Enriched(0, i)));
            if (i == 199)
            {
                await lastWriter.RollAsync();
            }
        }

        var reports = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var source = new KafkaArchiveSource(_kafka.BootstrapServers, "archive", "enriched", "alerts", TimeSpan.FromSeconds(6), new Dictionary<string, string>());

        // Act
        await using var collector = KafkaArchiveCollector.Start(root, Site, Quick, source, reports.Enqueue);
        await AwaitAsync(() => collector.RowsCommitted == 400, "partition 1 is collected");
        await Task.Delay(1000);
        var whileHeld = collector.RowsCommitted;
        await lastWriter.RollAsync();
        await lastWriter.DisposeAsync();
        await AwaitAsync(() => collector.RowsCommitted == 500, "partition 0 is collected after the last writer's roll");

        // Assert: every record of both partitions once; partition 0 from where the last writer ended.
        Assert.Equal(400, whileHeld);
        Assert.Equal(Enumerable.Range(0, 400).Select(i => (long)(i / 20)).Order(), Offsets(root, "p0").Order());
        Assert.Equal(Enumerable.Range(0, 400).Select(i => (long)(i / 20)).Order(), Offsets(root, "p1").Order());
        Assert.Contains(reports, r => r.Contains("waiting for its last writer", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Should_count_and_report_records_the_log_deleted_before_they_were_archived()
    {
        // Arrange: offsets 0-99 archived by an earlier writer; then the log lost 100-199 (deleted
        // before they were archived), so a fetch from 100 resumes at 200.
        _kafka.CreateTopic("enriched", 1);
        _kafka.CreateTopic("alerts", 1);
        await ProduceAsync(0, 0, 400);
        var root = ScratchDirectory.Create("anomaly-actors-archive");
        await using (var earlier = new SourceArchive<EnrichedRow>(root, EnrichedDataset.Instance, $"{Site}.enriched.0", Quick))
        {
            await earlier.RecoverAsync();
            for (var i = 0; i < 100; i++)
            {
                await earlier.AddAsync(i, KafkaArchiveCollector.ReadEnriched(Enriched(0, i)));
            }

            await earlier.RollAsync();
        }

        _kafka.DeleteRecordsBefore("enriched", 0, 200);
        var reports = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var source = new KafkaArchiveSource(_kafka.BootstrapServers, "archive", "enriched", "alerts", TimeSpan.FromSeconds(6), new Dictionary<string, string>());

        // Act
        await using var collector = KafkaArchiveCollector.Start(root, Site, Quick, source, reports.Enqueue);
        await AwaitAsync(() => collector.RowsCommitted == 200, "the records after the lost ones are collected");

        // Assert: it found the log starting after 100, counted what it lost and said so.
        Assert.Contains(reports, r => r.Contains("lost records 100 to 199 before they were archived", StringComparison.Ordinal));
        Assert.Equal(100, collector.RecordsGone);
        var expected = Enumerable.Range(0, 100).Concat(Enumerable.Range(200, 200)).Select(i => (long)(i / 20)).Order();
        Assert.Equal(expected, Offsets(root, "p0").Order());
    }
}
