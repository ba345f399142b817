using System.Globalization;
using System.Text;
using System.Text.Json;
using Confluent.Kafka;

namespace AnomalyActors.Replication;

/// <summary>What a link last knew: whether the site's Kafka answered, how far behind it is, what it replicated and lost.</summary>
/// <param name="LagRecords">Records in the site's topics not replicated yet (as of the last answer).</param>
/// <param name="LagSeconds">Age of the oldest record not copied yet, to a heartbeat interval (0 when caught up); while the site does not answer, at least the time since it last did.</param>
/// <param name="LostRecords">Records the site's Kafka deleted (retention) before the link could copy them.</param>
public sealed record LinkStatus(string Site, bool Reachable, long LagRecords, double LagSeconds, long Replicated, long LostRecords, long AtMs);

/// <summary>Records the site's Kafka deleted before the link copied them: the global side can no longer get them.</summary>
public sealed record ReplicationGap(string Site, string Topic, int Partition, long From, long To)
{
    public long Lost => To - From;
}

/// <summary>
/// Replicates one site's result topics to the global Kafka, one way, at least once: the site's
/// partitions are read with explicit offsets (no consumer group across the WAN), each record is
/// produced to the global topic by an idempotent producer with origin headers (site, source topic,
/// partition and offset), and only once the global cluster has acknowledged a batch are the source
/// offsets it covered stored, on the global side (<see cref="SiteLinkSettings.OffsetsTopic"/>). A
/// record can so be copied twice after a crash, never lost; the global view drops repeats by alert
/// id. Every heartbeat interval the link writes its status (reachability, lag in records and
/// seconds) to <see cref="SiteLinkSettings.StatusTopic"/>. When the site deleted records the link
/// had not copied yet (its retention passed the stored offset, e.g. during a long WAN cut), it says
/// so loudly, with the number of records lost, and goes on from the oldest record left.
/// </summary>
public sealed class SiteLink : IAsyncDisposable
{
    private static readonly TimeSpan IdleWait = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan RetryAfter = TimeSpan.FromSeconds(2);

    private readonly SiteLinkSettings _settings;
    private readonly Action<string> _warn;
    private readonly Action<ReplicationGap> _gap;
    private readonly CancellationTokenSource _stop = new();
    private readonly Dictionary<TopicPartition, long> _stored = [];
    private readonly Dictionary<string, string> _targetOf;
    private readonly Task _loop;
    private LinkStatus _status;
    private long _replicated;
    private long _lost;
    private long _answeredAtMs;
    private DateTime? _unreachableSince;

    // The site's high watermarks as each heartbeat saw them, oldest first, while not all copied: the
    // oldest one's time is how far behind the link is (to a heartbeat interval), whatever arrived since.
    private readonly Queue<(long AtMs, Dictionary<TopicPartition, long> High)> _marks = new();
    private const int MaxMarks = 10_000;

    private SiteLink(SiteLinkSettings settings, Action<string> warn, Action<ReplicationGap>? gap)
    {
        _settings = settings;
        _warn = warn;
        _gap = gap ?? (_ => { });
        _targetOf = settings.Topics.ToDictionary(t => t.Source, t => t.Target, StringComparer.Ordinal);
        _answeredAtMs = Now;
        _status = new LinkStatus(settings.Site, false, 0, 0, 0, 0, Now);
        _loop = Task.Factory.StartNew(() => Run(_stop.Token), _stop.Token, TaskCreationOptions.LongRunning, TaskScheduler.Default);
    }

    public LinkStatus Status => Volatile.Read(ref _status);

    /// <summary>Ended by a failure it could not get past (the reason is in the task).</summary>
    public Task Completion => _loop;

    private static long Now => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

    /// <param name="warn">Told of problems an operator must hear of (a gap, a site that does not answer).</param>
    /// <param name="gap">Told of each gap as well (tests, alerts).</param>
    public static SiteLink Start(SiteLinkSettings settings, Action<string> warn, Action<ReplicationGap>? gap = null) => new(settings, warn, gap);

    public static string OffsetKey(string site, TopicPartition source) => $"{site}|{source.Topic}|{source.Partition.Value.ToString(CultureInfo.InvariantCulture)}";

    private void Run(CancellationToken stopping)
    {
        using var producer = new ProducerBuilder<byte[]?, byte[]?>(With(new ProducerConfig
        {
            BootstrapServers = _settings.GlobalBootstrap,
            EnableIdempotence = true,
            Acks = Acks.All,
            LingerMs = 5,
            // Never give up on a record while the global side is away: the batch waits for it.
            MessageTimeoutMs = 0,
            ClientId = $"anomaly-actors-replicator-{_settings.Site}",
        }, _settings.GlobalProperties)).Build();
        LoadStoredOffsets(stopping);
        var batch = new List<ConsumeResult<byte[]?, byte[]?>>(_settings.MaxBatch);
        while (!stopping.IsCancellationRequested)
        {
            // A reader of its own each time the site comes back: connections that lived through a
            // cut can sit behind requests the site never answered, for as long as the socket timeout.
            using var consumer = new ConsumerBuilder<byte[]?, byte[]?>(With(new ConsumerConfig
            {
                BootstrapServers = _settings.SourceBootstrap,
                // Required by the client; never joined or committed to (partitions are assigned).
                GroupId = $"anomaly-actors-replicator-{_settings.Site}",
                EnableAutoCommit = false,
                EnableAutoOffsetStore = false,
                AutoOffsetReset = AutoOffsetReset.Error,
                ClientId = $"anomaly-actors-replicator-{_settings.Site}",
            }, _settings.SourceProperties)).Build();
            if (!Assign(consumer, producer))
            {
                stopping.WaitHandle.WaitOne(RetryAfter);
                continue;
            }

            CopyWhileReachable(consumer, producer, batch, stopping);
        }
    }

    /// <summary>Copies batch after batch until the link stops or a heartbeat finds the site gone.</summary>
    private void CopyWhileReachable(IConsumer<byte[]?, byte[]?> consumer, IProducer<byte[]?, byte[]?> producer, List<ConsumeResult<byte[]?, byte[]?>> batch, CancellationToken stopping)
    {
        var nextHeartbeat = DateTime.UtcNow;
        while (!stopping.IsCancellationRequested)
        {
            if (DateTime.UtcNow >= nextHeartbeat)
            {
                nextHeartbeat = DateTime.UtcNow + _settings.HeartbeatInterval;
                if (!Heartbeat(consumer, producer))
                {
                    return;
                }
            }

            batch.Clear();
            while (batch.Count < _settings.MaxBatch && !stopping.IsCancellationRequested)
            {
                ConsumeResult<byte[]?, byte[]?>? result;
                try
                {
                    result = consumer.Consume(batch.Count == 0 ? IdleWait : TimeSpan.Zero);
                }
                catch (ConsumeException e) when (e.Error.Code == ErrorCode.Local_AutoOffsetReset || e.Error.Code == ErrorCode.OffsetOutOfRange)
                {
                    SkipDeleted(consumer, producer, e.ConsumerRecord?.TopicPartition);
                    break;
                }

                if (result?.Message is null)
                {
                    break;
                }

                batch.Add(result);
            }

            if (batch.Count > 0 && !Replicate(producer, batch, stopping))
            {
                // Not all acknowledged: copy the batch again from what was stored.
                Rewind(consumer);
                stopping.WaitHandle.WaitOne(RetryAfter);
            }
        }
    }

    private static T With<T>(T config, IReadOnlyDictionary<string, string>? properties)
        where T : ClientConfig
    {
        foreach (var (key, value) in properties ?? new Dictionary<string, string>())
        {
            config.Set(key, value);
        }

        return config;
    }

    /// <summary>Produces a batch and waits for every acknowledgement; then stores the offsets it covered.</summary>
    private bool Replicate(IProducer<byte[]?, byte[]?> producer, List<ConsumeResult<byte[]?, byte[]?>> batch, CancellationToken stopping)
    {
        var failed = 0;
        Error? error = null;
        var next = new Dictionary<TopicPartition, long>();
        foreach (var record in batch)
        {
            producer.Produce(_targetOf[record.Topic], new Message<byte[]?, byte[]?>
            {
                Key = record.Message.Key,
                Value = record.Message.Value,
                Timestamp = record.Message.Timestamp,
                Headers = OriginHeaders.For(_settings.Site, record.TopicPartitionOffset, record.Message.Headers),
            }, report =>
            {
                if (report.Error.IsError)
                {
                    Interlocked.Increment(ref failed);
                    error = report.Error;
                }
            });
            next[record.TopicPartition] = record.Offset.Value + 1;
        }

        if (!FlushAll(producer, stopping) || failed > 0)
        {
            if (failed > 0)
            {
                _warn($"Replication of site {_settings.Site}: {failed} records were refused by the global Kafka ({error?.Reason}); copying them again");
            }

            return false;
        }

        foreach (var (partition, offset) in next)
        {
            StoreOffset(producer, partition, offset, report =>
            {
                if (report.Error.IsError)
                {
                    Interlocked.Increment(ref failed);
                }
            });
        }

        if (!FlushAll(producer, stopping) || failed > 0)
        {
            return false;
        }

        foreach (var (partition, offset) in next)
        {
            _stored[partition] = offset;
        }

        Interlocked.Add(ref _replicated, batch.Count);
        return true;
    }

    private static bool FlushAll(IProducer<byte[]?, byte[]?> producer, CancellationToken stopping)
    {
        while (producer.Flush(TimeSpan.FromMilliseconds(500)) > 0)
        {
            if (stopping.IsCancellationRequested)
            {
                return false;
            }
        }

        return true;
    }

    private void Rewind(IConsumer<byte[]?, byte[]?> consumer)
    {
        foreach (var partition in consumer.Assignment)
        {
            consumer.Seek(new TopicPartitionOffset(partition, _stored.TryGetValue(partition, out var next) ? new Offset(next) : Offset.Beginning));
        }
    }

    /// <summary>The source offsets stored on the global side, read from the beginning of the offsets topic to its end.</summary>
    private void LoadStoredOffsets(CancellationToken stopping)
    {
        var prefix = _settings.Site + "|";
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                using var reader = new ConsumerBuilder<byte[]?, byte[]?>(With(new ConsumerConfig
                {
                    BootstrapServers = _settings.GlobalBootstrap,
                    GroupId = $"anomaly-actors-replicator-{_settings.Site}-offsets",
                    EnableAutoCommit = false,
                }, _settings.GlobalProperties)).Build();
                using var admin = new DependentAdminClientBuilder(reader.Handle).Build();
                var metadata = admin.GetMetadata(_settings.OffsetsTopic, _settings.BrokerTimeout).Topics.Single();
                if (metadata.Error.IsError)
                {
                    throw new KafkaException(metadata.Error);
                }

                foreach (var partition in metadata.Partitions.Select(p => new TopicPartition(_settings.OffsetsTopic, p.PartitionId)))
                {
                    var marks = reader.QueryWatermarkOffsets(partition, _settings.BrokerTimeout);
                    if (marks.High.Value <= marks.Low.Value)
                    {
                        continue;
                    }

                    reader.Assign(new TopicPartitionOffset(partition, marks.Low));
                    while (true)
                    {
                        var record = reader.Consume(_settings.BrokerTimeout) ?? throw new TimeoutException($"reading {partition} stalled");
                        var key = record.Message.Key is { } k ? Encoding.UTF8.GetString(k) : string.Empty;
                        if (key.StartsWith(prefix, StringComparison.Ordinal) && record.Message.Value is { } v
                            && long.TryParse(Encoding.UTF8.GetString(v), NumberStyles.None, CultureInfo.InvariantCulture, out var next))
                        {
                            var parts = key.Split('|');
                            _stored[new TopicPartition(parts[1], int.Parse(parts[2], CultureInfo.InvariantCulture))] = next;
                        }

                        if (record.Offset.Value + 1 >= marks.High.Value)
                        {
                            break;
                        }
                    }
                }

                return;
            }
            catch (Exception e) when (e is KafkaException or TimeoutException or InvalidOperationException)
            {
                Publish(reachable: false, Status.LagRecords);
                _warn($"Replication of site {_settings.Site}: cannot read its stored offsets from the global Kafka at {_settings.GlobalBootstrap} ({e.Message}); trying again");
                stopping.WaitHandle.WaitOne(RetryAfter);
            }
        }
    }

    /// <summary>Every partition of the site's topics, from its stored offset (or its beginning); false when the site does not answer.</summary>
    private bool Assign(IConsumer<byte[]?, byte[]?> consumer, IProducer<byte[]?, byte[]?> producer)
    {
        try
        {
            using var admin = new DependentAdminClientBuilder(consumer.Handle).Build();
            var starts = new List<TopicPartitionOffset>();
            foreach (var topic in _settings.Topics)
            {
                var metadata = admin.GetMetadata(topic.Source, _settings.BrokerTimeout).Topics.Single();
                if (metadata.Error.IsError)
                {
                    throw new KafkaException(metadata.Error);
                }

                foreach (var p in metadata.Partitions)
                {
                    var partition = new TopicPartition(topic.Source, p.PartitionId);
                    var marks = consumer.QueryWatermarkOffsets(partition, _settings.BrokerTimeout);
                    var next = _stored.TryGetValue(partition, out var stored) ? stored : marks.Low.Value;
                    if (next < marks.Low.Value)
                    {
                        ReportGap(producer, partition, next, marks.Low.Value);
                        next = marks.Low.Value;
                    }

                    starts.Add(new TopicPartitionOffset(partition, new Offset(next)));
                    _stored.TryAdd(partition, next);
                }
            }

            consumer.Assign(starts);
            if (_unreachableSince is { } since)
            {
                _warn($"Replication of site {_settings.Site}: its Kafka answers again after {(DateTime.UtcNow - since).TotalSeconds:0} s; catching up");
                _unreachableSince = null;
            }

            return true;
        }
        catch (KafkaException e)
        {
            Unreachable(e.Error.Reason, producer);
            return false;
        }
    }

    /// <summary>The site stopped answering: said once per outage, and the status shows it.</summary>
    private void Unreachable(string reason, IProducer<byte[]?, byte[]?> producer)
    {
        Publish(reachable: false, Status.LagRecords);
        WriteStatus(producer);
        if (_unreachableSince is null)
        {
            _unreachableSince = DateTime.UtcNow;
            _warn($"Replication of site {_settings.Site}: its Kafka at {_settings.SourceBootstrap} does not answer ({reason}); trying again every {RetryAfter.TotalSeconds:0} s");
        }
    }

    /// <summary>A partition's next record was deleted at the site: report what is lost and go on from the oldest record left.</summary>
    private void SkipDeleted(IConsumer<byte[]?, byte[]?> consumer, IProducer<byte[]?, byte[]?> producer, TopicPartition? partition)
    {
        foreach (var tp in partition is null ? consumer.Assignment : [partition])
        {
            try
            {
                var marks = consumer.QueryWatermarkOffsets(tp, _settings.BrokerTimeout);
                var next = _stored.TryGetValue(tp, out var stored) ? stored : marks.Low.Value;
                if (next < marks.Low.Value)
                {
                    ReportGap(producer, tp, next, marks.Low.Value);
                    consumer.Seek(new TopicPartitionOffset(tp, marks.Low));
                }
            }
            catch (KafkaException)
            {
                // The next attempt sees it again.
            }
        }
    }

    private void ReportGap(IProducer<byte[]?, byte[]?> producer, TopicPartition partition, long from, long to)
    {
        var gap = new ReplicationGap(_settings.Site, partition.Topic, partition.Partition.Value, from, to);
        Interlocked.Add(ref _lost, gap.Lost);
        _warn($"REPLICATION GAP: site {_settings.Site} deleted {gap.Lost} records of {partition.Topic} [{partition.Partition.Value}] (offsets {from} to {to - 1}) before they were copied to the global Kafka; the global view will never have them");
        _gap(gap);
        // The gap is the new start: recorded, so that a restart does not report it again.
        _stored[partition] = to;
        StoreOffset(producer, partition, to, null);
    }

    /// <summary>A source partition's next offset to copy, for the offsets topic on the global side.</summary>
    private void StoreOffset(IProducer<byte[]?, byte[]?> producer, TopicPartition partition, long next, Action<DeliveryReport<byte[]?, byte[]?>>? report) =>
        producer.Produce(_settings.OffsetsTopic, new Message<byte[]?, byte[]?>
        {
            Key = Encoding.UTF8.GetBytes(OffsetKey(_settings.Site, partition)),
            Value = Encoding.UTF8.GetBytes(next.ToString(CultureInfo.InvariantCulture)),
        }, report);

    /// <summary>Lag from the high watermarks the site last answered with; unreachable when it does not answer now.</summary>
    /// <returns>Whether the site answered.</returns>
    private bool Heartbeat(IConsumer<byte[]?, byte[]?> consumer, IProducer<byte[]?, byte[]?> producer)
    {
        long lag = 0;
        var highs = new Dictionary<TopicPartition, long>();
        foreach (var partition in consumer.Assignment)
        {
            try
            {
                // Copied but not acknowledged yet counts as behind.
                var marks = consumer.QueryWatermarkOffsets(partition, _settings.BrokerTimeout);
                var next = _stored.TryGetValue(partition, out var stored) ? stored : marks.Low.Value;
                lag += Math.Max(0, marks.High.Value - next);
                highs[partition] = marks.High.Value;
            }
            catch (KafkaException e)
            {
                Unreachable(e.Error.Reason, producer);
                return false;
            }
        }

        _answeredAtMs = Now;
        _marks.Enqueue((_answeredAtMs, highs));
        while (_marks.Count > 0 && _marks.Peek().High.All(h => _stored.TryGetValue(h.Key, out var next) && next >= h.Value))
        {
            _marks.Dequeue();
        }

        if (_marks.Count > MaxMarks)
        {
            _marks.Dequeue();
        }

        Publish(reachable: true, lag);
        WriteStatus(producer);
        return true;
    }

    private void WriteStatus(IProducer<byte[]?, byte[]?> producer)
    {
        var status = Status;
        producer.Produce(_settings.StatusTopic, new Message<byte[]?, byte[]?>
        {
            Key = Encoding.UTF8.GetBytes(_settings.Site),
            Value = JsonSerializer.SerializeToUtf8Bytes(status, JsonSerializerOptions.Web),
        });
    }

    private void Publish(bool reachable, long lag)
    {
        var now = Now;
        var behindSinceMs = _marks.Count > 0 && lag > 0 ? _marks.Peek().AtMs : now;
        if (!reachable)
        {
            // Whatever it last said, nothing is known since the site last answered.
            behindSinceMs = Math.Min(behindSinceMs, _answeredAtMs);
        }

        var lagSeconds = (now - behindSinceMs) / 1000.0;
        Volatile.Write(ref _status, new LinkStatus(_settings.Site, reachable, lag, lagSeconds, Interlocked.Read(ref _replicated), Interlocked.Read(ref _lost), now));
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        try
        {
            await _loop.WaitAsync(TimeSpan.FromSeconds(30)).ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or TimeoutException)
        {
        }

        _stop.Dispose();
    }
}
