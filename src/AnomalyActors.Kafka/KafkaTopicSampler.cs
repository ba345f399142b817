using Confluent.Kafka;
using Confluent.Kafka.Admin;

namespace AnomalyActors.Kafka;

/// <summary>
/// The site's topics as the operations panel and a scrape show them, read from the brokers every few
/// seconds: messages held per topic (high minus low watermark over its partitions) and the node's
/// consumer group's lag on the readings topic (high watermark minus the committed offset, which a
/// node commits once every sensor behind it has snapshotted). Null until the first read succeeds,
/// and again while the brokers do not answer.
/// </summary>
public sealed class KafkaTopicSampler : IAsyncDisposable
{
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(10);

    private static readonly TimeSpan BrokerTimeout = TimeSpan.FromSeconds(5);

    private readonly KafkaSettings _settings;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private KafkaTopicsSample? _latest;

    public KafkaTopicSampler(KafkaSettings settings, Action<string> warn)
    {
        _settings = settings;
        _loop = Task.Run(() => SampleAsync(warn, _stop.Token));
    }

    public KafkaTopicsSample? Latest => Volatile.Read(ref _latest);

    private async Task SampleAsync(Action<string> warn, CancellationToken stopping)
    {
        var consumerConfig = _settings.ReaderConfig("-watermarks");
        var adminConfig = _settings.AdminConfig();
        using var admin = new AdminClientBuilder(adminConfig).Build();
        using var consumer = new ConsumerBuilder<Ignore, Ignore>(consumerConfig).Build();
        var topics = new[] { _settings.ReadingsTopic, _settings.AlertsTopic, _settings.EnrichedTopic, _settings.DeadLettersTopic }
            .Where(t => t.Length > 0).Distinct(StringComparer.Ordinal).ToArray();
        var failing = false;
        using var timer = new PeriodicTimer(Interval);
        do
        {
            try
            {
                var sample = await Task.Run(() => Read(admin, consumer, topics), stopping).ConfigureAwait(false);
                Volatile.Write(ref _latest, sample);
                failing = false;
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return;
            }
            catch (KafkaException e)
            {
                Volatile.Write(ref _latest, null);
                if (!failing)
                {
                    warn($"Could not read the sizes of Kafka topics at {_settings.BootstrapServers}: {e.Error.Reason}; trying again every {Interval.TotalSeconds:0} s");
                }

                failing = true;
            }
        }
        while (await NextAsync(timer, stopping).ConfigureAwait(false));
    }

    private KafkaTopicsSample Read(IAdminClient admin, IConsumer<Ignore, Ignore> consumer, string[] topics)
    {
        var metadata = admin.GetMetadata(BrokerTimeout);
        var result = new List<KafkaTopicSize>();
        long? lag = null;
        foreach (var topic in topics)
        {
            var partitions = metadata.Topics.FirstOrDefault(t => t.Topic == topic && t.Error.Code == ErrorCode.NoError)?.Partitions;
            if (partitions is null)
            {
                // Not created yet (topics are created on first use).
                continue;
            }

            long messages = 0;
            var watermarks = new Dictionary<int, WatermarkOffsets>();
            foreach (var partition in partitions)
            {
                var offsets = consumer.QueryWatermarkOffsets(new TopicPartition(topic, partition.PartitionId), BrokerTimeout);
                messages += offsets.High.Value - offsets.Low.Value;
                watermarks[partition.PartitionId] = offsets;
            }

            result.Add(new KafkaTopicSize(topic, partitions.Count, messages));
            if (topic == _settings.ReadingsTopic)
            {
                var committed = admin.ListConsumerGroupOffsetsAsync(
                    [new ConsumerGroupTopicPartitions(_settings.GroupId, [.. watermarks.Keys.Select(p => new TopicPartition(topic, p))])],
                    new ListConsumerGroupOffsetsOptions { RequestTimeout = BrokerTimeout }).GetAwaiter().GetResult();
                // Nothing committed yet, or committed below what retention kept: the lag is what the topic holds.
                lag = committed.SelectMany(g => g.Partitions).Sum(p =>
                {
                    var offsets = watermarks[p.Partition.Value];
                    var from = p.Offset == Offset.Unset ? offsets.Low.Value : Math.Max(p.Offset.Value, offsets.Low.Value);
                    return Math.Max(0, offsets.High.Value - from);
                });
            }
        }

        return new KafkaTopicsSample(result, lag, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
    }

    private static async Task<bool> NextAsync(PeriodicTimer timer, CancellationToken stopping)
    {
        try
        {
            return await timer.WaitForNextTickAsync(stopping).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        await _loop.ConfigureAwait(false);
        _stop.Dispose();
    }
}

/// <param name="ReadingsLag">Readings in the readings topic beyond the group's committed offsets (null before the topic exists).</param>
public sealed record KafkaTopicsSample(IReadOnlyList<KafkaTopicSize> Topics, long? ReadingsLag, long AtMs);

/// <param name="Messages">Messages the topic holds now (retention removes the oldest).</param>
public sealed record KafkaTopicSize(string Topic, int Partitions, long Messages);
