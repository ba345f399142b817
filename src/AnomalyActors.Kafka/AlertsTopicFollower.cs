using Confluent.Kafka;
using Confluent.Kafka.Admin;

namespace AnomalyActors.Kafka;

/// <summary>
/// Follows alerts topics from their last few records on: the site's alerts topic, which every member
/// of a cluster writes, so a dashboard fed from it shows the whole site's alerts, at start and live,
/// whichever member raised them; or, on the global layer, every site's replicated alerts topic.
/// Reads with assigned partitions and no consumer group (nothing is committed); partitions (and
/// topics) that appear later are picked up at the next check.
/// </summary>
public sealed class AlertsTopicFollower : IAsyncDisposable
{
    private static readonly TimeSpan BrokerTimeout = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan PartitionCheck = TimeSpan.FromSeconds(30);

    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private long _records;

    /// <param name="tail">How many of the newest records to start from (over all partitions of a topic at most, newest first in each).</param>
    /// <param name="onAlert">Each record's value, in partition order; called on the follower's own thread.</param>
    public AlertsTopicFollower(KafkaSettings settings, int tail, Action<byte[]> onAlert, Action<string> warn)
        : this(settings.ReaderConfig("-dashboard"), settings.AdminConfig(), [settings.AlertsTopic], tail, (_, value) => onAlert(value), warn)
    {
    }

    /// <param name="consumerConfig">A reader's configuration (it never commits).</param>
    /// <param name="onAlert">Each record's topic and value, in partition order; called on the follower's own thread.</param>
    public AlertsTopicFollower(ConsumerConfig consumerConfig, AdminClientConfig adminConfig, IReadOnlyList<string> topics, int tail, Action<string, byte[]> onAlert, Action<string> warn)
    {
        _loop = Task.Factory.StartNew(() => Follow(consumerConfig, adminConfig, topics, tail, onAlert, warn, _stop.Token), _stop.Token, TaskCreationOptions.LongRunning, TaskScheduler.Default);
    }

    /// <summary>Records handed on so far.</summary>
    public long Records => Interlocked.Read(ref _records);

    private void Follow(ConsumerConfig consumerConfig, AdminClientConfig adminConfig, IReadOnlyList<string> topics, int tail, Action<string, byte[]> onAlert, Action<string> warn, CancellationToken stopping)
    {
        consumerConfig.EnablePartitionEof = false;
        using var admin = new AdminClientBuilder(adminConfig).Build();
        using var consumer = new ConsumerBuilder<Ignore, byte[]>(consumerConfig).SetValueDeserializer(Deserializers.ByteArray).Build();
        var assigned = new HashSet<TopicPartition>();
        var failing = false;
        var nextCheck = DateTime.UtcNow;
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                if (DateTime.UtcNow >= nextCheck)
                {
                    nextCheck = DateTime.UtcNow + PartitionCheck;
                    foreach (var topic in topics)
                    {
                        var known = assigned.Any(tp => tp.Topic == topic);
                        var partitions = admin.GetMetadata(topic, BrokerTimeout).Topics.SingleOrDefault(t => t.Topic == topic && !t.Error.IsError)?.Partitions
                            .Select(p => new TopicPartition(topic, p.PartitionId)).Where(tp => !assigned.Contains(tp)).ToList() ?? [];
                        if (partitions.Count == 0)
                        {
                            continue;
                        }

                        // At start the newest records of each partition, so that about 'tail' show in all;
                        // a partition added later is read from its beginning.
                        var perPartition = known ? long.MaxValue : Math.Max(1, tail / partitions.Count);
                        var starts = partitions.Select(partition =>
                        {
                            var marks = consumer.QueryWatermarkOffsets(partition, BrokerTimeout);
                            var from = perPartition == long.MaxValue ? marks.Low.Value : Math.Max(marks.Low.Value, marks.High.Value - perPartition);
                            return new TopicPartitionOffset(partition, new Offset(from));
                        }).ToList();
                        consumer.IncrementalAssign(starts);
                        assigned.UnionWith(partitions);
                    }
                }

                if (assigned.Count == 0)
                {
                    stopping.WaitHandle.WaitOne(TimeSpan.FromSeconds(1));
                    continue;
                }

                var result = consumer.Consume(TimeSpan.FromMilliseconds(500));
                if (result?.Message?.Value is { } value)
                {
                    onAlert(result.Topic, value);
                    Interlocked.Increment(ref _records);
                }

                failing = false;
            }
            catch (KafkaException e)
            {
                if (!failing)
                {
                    warn($"The dashboard could not read alerts topics {string.Join(", ", topics)} at {consumerConfig.BootstrapServers}: {e.Error.Reason}; trying again");
                }

                failing = true;
                stopping.WaitHandle.WaitOne(TimeSpan.FromSeconds(2));
            }
        }

        consumer.Close();
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        try
        {
            await _loop.WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or TimeoutException)
        {
        }

        _stop.Dispose();
    }
}
