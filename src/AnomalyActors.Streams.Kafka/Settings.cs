using System.Collections.Immutable;
using Confluent.Kafka;

namespace AnomalyActors.Streams.Kafka;

/// <summary>
/// Immutable consumer configuration, shaped like Akka.Streams.Kafka's: client properties plus the
/// stream-side knobs. Offsets are never committed or stored automatically: only commits made through
/// <see cref="ICommittable"/> move a group's position.
/// </summary>
public sealed record ConsumerSettings<TKey, TValue>(
    ImmutableDictionary<string, string> Properties,
    IDeserializer<TKey>? KeyDeserializer,
    IDeserializer<TValue>? ValueDeserializer,
    TimeSpan PollTimeout,
    int PartitionBufferSize)
{
    public static ConsumerSettings<TKey, TValue> Create(IDeserializer<TKey>? keyDeserializer = null, IDeserializer<TValue>? valueDeserializer = null) =>
        new(ImmutableDictionary<string, string>.Empty, keyDeserializer, valueDeserializer, TimeSpan.FromMilliseconds(50), 10_000);

    private const string FetchQueueBackoffKey = "fetch.queue.backoff.ms";

    public string? GroupId => Properties.GetValueOrDefault("group.id");

    public ConsumerSettings<TKey, TValue> WithBootstrapServers(string servers) => WithProperty("bootstrap.servers", servers);

    public ConsumerSettings<TKey, TValue> WithGroupId(string groupId) => WithProperty("group.id", groupId);

    public ConsumerSettings<TKey, TValue> WithClientId(string clientId) => WithProperty("client.id", clientId);

    public ConsumerSettings<TKey, TValue> WithProperty(string key, string value) => this with { Properties = Properties.SetItem(key, value) };

    public ConsumerSettings<TKey, TValue> WithPollTimeout(TimeSpan timeout) => this with { PollTimeout = timeout };

    /// <summary>Messages buffered per partition before fetching from it pauses (back-pressure).</summary>
    public ConsumerSettings<TKey, TValue> WithPartitionBufferSize(int size) => this with { PartitionBufferSize = size };

    public ConsumerConfig CreateConsumerConfig()
    {
        var config = new ConsumerConfig(Properties.ToDictionary(p => p.Key, p => p.Value))
        {
            EnableAutoCommit = false,
            EnableAutoOffsetStore = false,
        };
        config.AutoOffsetReset ??= AutoOffsetReset.Earliest;
        if (!Properties.ContainsKey(FetchQueueBackoffKey))
        {
            // The worker moves librdkafka's queue into per-partition buffers that pause fetching
            // themselves (PartitionBufferSize), so librdkafka's own queue threshold only adds its
            // backoff: with the default 1,000 ms, a catch-up burst over queued.min.messages stopped
            // all fetching for about 0.5 s (kafka benchmark: 124,000-144,000 readings/s with the
            // stall, 216,000-275,000 without).
            config.Set(FetchQueueBackoffKey, "10");
        }

        return config;
    }
}

/// <summary>Immutable producer configuration. Idempotence is on unless explicitly turned off.</summary>
public sealed record ProducerSettings<TKey, TValue>(
    ImmutableDictionary<string, string> Properties,
    ISerializer<TKey>? KeySerializer,
    ISerializer<TValue>? ValueSerializer)
{
    public static ProducerSettings<TKey, TValue> Create(ISerializer<TKey>? keySerializer = null, ISerializer<TValue>? valueSerializer = null) =>
        new(ImmutableDictionary<string, string>.Empty.Add("enable.idempotence", "true"), keySerializer, valueSerializer);

    public ProducerSettings<TKey, TValue> WithBootstrapServers(string servers) => WithProperty("bootstrap.servers", servers);

    public ProducerSettings<TKey, TValue> WithProperty(string key, string value) => this with { Properties = Properties.SetItem(key, value) };

    public ProducerConfig CreateProducerConfig() => new(Properties.ToDictionary(p => p.Key, p => p.Value));

    public IProducer<TKey, TValue> CreateProducer()
    {
        var builder = new ProducerBuilder<TKey, TValue>(CreateProducerConfig());
        if (KeySerializer is not null)
        {
            builder.SetKeySerializer(KeySerializer);
        }

        if (ValueSerializer is not null)
        {
            builder.SetValueSerializer(ValueSerializer);
        }

        return builder.Build();
    }
}

/// <summary>How committable offsets are batched into commits.</summary>
/// <param name="MaxBatch">Commit once this many offsets have arrived...</param>
/// <param name="MaxInterval">...or this long after the first uncommitted one, whichever is first.</param>
/// <param name="Parallelism">Commits in flight at once.</param>
public sealed record CommitterSettings(int MaxBatch, TimeSpan MaxInterval, int Parallelism = 1)
{
    public static CommitterSettings Default { get; } = new(1000, TimeSpan.FromMilliseconds(200));

    public CommitterSettings WithMaxBatch(int maxBatch) => this with { MaxBatch = maxBatch };

    public CommitterSettings WithMaxInterval(TimeSpan interval) => this with { MaxInterval = interval };
}

/// <summary>What a consumer reads.</summary>
public interface ISubscription
{
    IReadOnlyList<string> Topics { get; }
}

public static class Subscriptions
{
    public static ISubscription Topics(params string[] topics) => new TopicSubscription(topics);

    private sealed record TopicSubscription(IReadOnlyList<string> Topics) : ISubscription;
}
