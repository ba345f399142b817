using System.Globalization;
using System.Text;
using AnomalyActors.Kafka.Testing;
using AnomalyActors.Testing;
using Confluent.Kafka;
using Xunit;

namespace AnomalyActors.Replication.Tests;

/// <summary>
/// A site's Kafka and the global Kafka as two mock clusters: the link copies the site's alerts topic
/// to the global <c>&lt;site&gt;.alerts</c> with origin headers, at least once, and goes on where it
/// stopped (offsets stored on the global side).
/// </summary>
public sealed class SiteLinkSpecs : IDisposable
{
    private const string Site = "dc1";
    private const string Alerts = "alerts";
    private const string Target = "dc1.alerts";
    private const string Offsets = "anomaly-actors.replication-offsets";
    private const string Status = "anomaly-actors.replication-status";
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);

    private readonly MockKafkaCluster _site = new(brokers: 1);
    private readonly MockKafkaCluster _global = new(brokers: 1);
    private readonly List<string> _warnings = [];
    private readonly List<ReplicationGap> _gaps = [];
    private int _produced;

    public SiteLinkSpecs()
    {
        _site.CreateTopic(Alerts, 4);
        _global.CreateTopic(Target, 4);
        _global.CreateTopic(Offsets, 2);
        _global.CreateTopic(Status, 1);
    }

    public void Dispose()
    {
        _site.Dispose();
        _global.Dispose();
    }

    private SiteLink StartLink() => SiteLink.Start(
        new SiteLinkSettings(Site, _site.BootstrapServers, SiteLinkSettings.TopicsOf(Site, Alerts, null), _global.BootstrapServers, Offsets, Status, TimeSpan.FromMilliseconds(500), MaxBatch: 200)
        {
            BrokerTimeout = TimeSpan.FromSeconds(2),
        },
        message =>
        {
            lock (_warnings)
            {
                _warnings.Add(message);
            }
        },
        gap =>
        {
            lock (_gaps)
            {
                _gaps.Add(gap);
            }
        });

    private async Task ProduceAsync(int count)
    {
        using var producer = new ProducerBuilder<string, string>(new ProducerConfig { BootstrapServers = _site.BootstrapServers, EnableIdempotence = true }).Build();
        for (var i = 0; i < count; i++)
        {
            var n = _produced++;
            producer.Produce(Alerts, new Message<string, string> { Key = $"dc1/device-{n % 37}/temp", Value = $"{{\"alertId\":\"dc1/device-{n % 37}/temp#{n}\"}}" });
        }

        await Task.Run(() => producer.Flush(TimeSpan.FromSeconds(30)));
    }

    /// <summary>Every record of the global topic: its value and its origin (source partition and offset).</summary>
    private List<(string Value, string Origin)> Replicated()
    {
        using var consumer = new ConsumerBuilder<string, string>(new ConsumerConfig { BootstrapServers = _global.BootstrapServers, GroupId = "audit-" + Guid.NewGuid().ToString("N"), EnableAutoCommit = false }).Build();
        var records = new List<(string, string)>();
        for (var p = 0; p < 4; p++)
        {
            var partition = new TopicPartition(Target, p);
            var marks = consumer.QueryWatermarkOffsets(partition, TimeSpan.FromSeconds(10));
            if (marks.High.Value == 0)
            {
                continue;
            }

            consumer.Assign(new TopicPartitionOffset(partition, 0));
            while (true)
            {
                var record = consumer.Consume(TimeSpan.FromSeconds(10)) ?? throw new TimeoutException($"reading {partition} stalled");
                Assert.Equal(Site, OriginHeaders.Text(record.Message.Headers, OriginHeaders.Site));
                Assert.Equal(Alerts, OriginHeaders.Text(record.Message.Headers, OriginHeaders.Topic));
                records.Add((record.Message.Value, $"{OriginHeaders.Text(record.Message.Headers, OriginHeaders.Partition)}@{OriginHeaders.Text(record.Message.Headers, OriginHeaders.Offset)}"));
                if (record.Offset.Value + 1 >= marks.High.Value)
                {
                    break;
                }
            }
        }

        return records;
    }

    private async Task AwaitReplicatedAsync(int count, TimeSpan timeout)
    {
        await HostlessWait.UntilAsync(() => Replicated().Count >= count, timeout, () => $"{Replicated().Count} of {count} records replicated; warnings: {string.Join(" | ", _warnings)}");
    }

    [Fact]
    public async Task Should_copy_every_record_once_with_its_origin_and_go_on_from_the_stored_offsets_after_a_restart()
    {
        // Arrange
        await ProduceAsync(1_000);

        // Act
        await using (var link = StartLink())
        {
            await AwaitReplicatedAsync(1_000, Wait);
            await HostlessWait.UntilAsync(() => link.Status is { Reachable: true, LagRecords: 0 }, Wait, () => $"caught up: {link.Status}");
        }

        await ProduceAsync(500);
        await using (var again = StartLink())
        {
            await AwaitReplicatedAsync(1_500, Wait);
            await HostlessWait.UntilAsync(() => again.Status is { LagRecords: 0, Replicated: 500 }, Wait, () => $"caught up again: {again.Status}");
        }

        // Assert: each source record once (a graceful stop stores what it copied), values intact
        var records = Replicated();
        Assert.Equal(1_500, records.Count);
        Assert.Equal(1_500, records.Select(r => r.Origin).Distinct().Count());
        Assert.Equal(Enumerable.Range(0, 1_500).Select(n => $"#{n}\"}}").Order(StringComparer.Ordinal), records.Select(r => r.Value[r.Value.IndexOf('#')..]).Order(StringComparer.Ordinal));
        Assert.Empty(_gaps);
    }

    [Fact]
    public async Task Should_report_the_site_lagging_while_cut_off_and_catch_up_after_the_heal()
    {
        await ProduceAsync(300);
        await using var link = StartLink();
        await AwaitReplicatedAsync(300, Wait);

        // The WAN cut: the site's broker does not answer the link.
        _site.BrokerDown(1);
        // Lagging by the time since it was last caught up, growing at each heartbeat.
        await HostlessWait.UntilAsync(() => link.Status is { Reachable: false, LagSeconds: >= 2 }, Wait, () => $"unreachable and lagging: {link.Status}");

        _site.BrokerUp(1);
        await ProduceAsync(300);
        var healed = DateTime.UtcNow;
        await AwaitReplicatedAsync(600, TimeSpan.FromSeconds(30));
        await HostlessWait.UntilAsync(() => link.Status is { Reachable: true, LagRecords: 0, LagSeconds: 0 }, Wait, () => $"caught up: {link.Status}");
        Assert.True(DateTime.UtcNow - healed < TimeSpan.FromSeconds(30));
        Assert.Equal(600, Replicated().Select(r => r.Origin).Distinct().Count());
    }

    [Fact]
    public async Task Should_report_records_the_site_deleted_before_they_were_copied()
    {
        // The link copies the first records, then stops (a long WAN cut) while the site goes on.
        await ProduceAsync(100);
        await using (var link = StartLink())
        {
            await AwaitReplicatedAsync(100, Wait);
        }

        long copiedUpTo, deletedUpTo;
        using (var watermarks = new ConsumerBuilder<Ignore, Ignore>(new ConsumerConfig { BootstrapServers = _site.BootstrapServers, GroupId = "marks" }).Build())
        {
            copiedUpTo = watermarks.QueryWatermarkOffsets(new TopicPartition(Alerts, 0), TimeSpan.FromSeconds(10)).High.Value;
            await ProduceAsync(300);
            deletedUpTo = watermarks.QueryWatermarkOffsets(new TopicPartition(Alerts, 0), TimeSpan.FromSeconds(10)).High.Value - 10;
        }

        // The site's retention passes the link's offset in partition 0.
        _site.DeleteRecordsBefore(Alerts, 0, deletedUpTo);

        await using var again = StartLink();
        var expected = 400 - (int)(deletedUpTo - copiedUpTo);
        await AwaitReplicatedAsync(expected, Wait);
        await HostlessWait.UntilAsync(() => again.Status is { LagRecords: 0 }, Wait, () => $"caught up: {again.Status}");

        var gap = Assert.Single(_gaps);
        Assert.Equal((Alerts, 0, copiedUpTo, deletedUpTo), (gap.Topic, gap.Partition, gap.From, gap.To));
        Assert.Equal(gap.Lost, again.Status.LostRecords);
        Assert.Contains(_warnings, w => w.StartsWith($"REPLICATION GAP: site dc1 deleted {gap.Lost} records of alerts [0]", StringComparison.Ordinal));
        Assert.Equal(expected, Replicated().Count);
    }
}

/// <summary>Awaits a condition, polling, for a bounded time.</summary>
internal static class HostlessWait
{
    public static async Task UntilAsync(Func<bool> condition, TimeSpan timeout, Func<string> what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!condition())
        {
            if (DateTime.UtcNow >= deadline)
            {
                throw new TimeoutException($"Timed out waiting: {what()}");
            }

            await Task.Delay(250);
        }
    }
}
