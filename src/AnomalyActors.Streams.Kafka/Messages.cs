using Confluent.Kafka;

namespace AnomalyActors.Streams.Kafka;

/// <summary>Something whose offsets can be committed to the consumer group.</summary>
public interface ICommittable
{
    /// <summary>Offsets to commit: the position of the next message to read per partition.</summary>
    IReadOnlyList<TopicPartitionOffset> Offsets { get; }

    Task CommitAsync();
}

/// <summary>
/// The position after one message. Committing it tells the group that every message of the
/// partition up to and including this one is done.
/// </summary>
public sealed class CommittableOffset : ICommittable
{
    internal CommittableOffset(IKafkaCommitter committer, TopicPartition partition, long messageOffset)
    {
        Committer = committer;
        Partition = partition;
        MessageOffset = messageOffset;
    }

    internal IKafkaCommitter Committer { get; }

    public TopicPartition Partition { get; }

    /// <summary>Offset of the message; the committed position is one past it.</summary>
    public long MessageOffset { get; }

    public IReadOnlyList<TopicPartitionOffset> Offsets => [new TopicPartitionOffset(Partition, MessageOffset + 1)];

    /// <summary>
    /// The same partition at another message, e.g. the last one known to be durable downstream
    /// when that is not the message this offset came with.
    /// </summary>
    public CommittableOffset At(long messageOffset) => new(Committer, Partition, messageOffset);

    public Task CommitAsync() => Committer.CommitAsync(Offsets);

    public override string ToString() => $"{Partition}@{MessageOffset}";
}

/// <summary>The highest offset per partition of several committables, committed together.</summary>
internal sealed class CommittableOffsetBatch : ICommittable
{
    private readonly Dictionary<TopicPartition, CommittableOffset> _highest = new();

    public int BatchSize { get; private set; }

    public bool IsEmpty => _highest.Count == 0;

    public IReadOnlyList<TopicPartitionOffset> Offsets => _highest.Values.SelectMany(o => o.Offsets).ToList();

    public CommittableOffsetBatch Add(ICommittable committable)
    {
        switch (committable)
        {
            case CommittableOffset offset:
                if (!_highest.TryGetValue(offset.Partition, out var known) || known.MessageOffset < offset.MessageOffset)
                {
                    _highest[offset.Partition] = offset;
                }

                BatchSize++;
                break;
            case CommittableOffsetBatch batch:
                foreach (var offset in batch._highest.Values)
                {
                    Add(offset);
                }

                break;
            default:
                throw new ArgumentException($"Cannot batch {committable.GetType().Name}.", nameof(committable));
        }

        return this;
    }

    public Task CommitAsync()
    {
        var tasks = _highest.Values
            .GroupBy(o => o.Committer)
            .Select(group => group.Key.CommitAsync(group.SelectMany(o => o.Offsets).ToList()));
        return Task.WhenAll(tasks);
    }
}

/// <summary>A consumed message and the handle to commit it.</summary>
public sealed class CommittableMessage<TKey, TValue>
{
    private readonly IKafkaCommitter _committer;
    private readonly TopicPartition _partition;
    private CommittableOffset? _offset;

    // The handle is made on first use: a consumer that batches commits asks only its batches' last
    // messages for one, and the stage does not allocate it for every message.
    internal CommittableMessage(ConsumeResult<TKey, TValue> record, IKafkaCommitter committer, TopicPartition partition)
    {
        Record = record;
        _committer = committer;
        _partition = partition;
    }

    public ConsumeResult<TKey, TValue> Record { get; }

    public CommittableOffset CommitableOffset => _offset ??= new CommittableOffset(_committer, _partition, Record.Offset.Value);
}

/// <summary>Commits offsets for a consumer; implemented by the consumer's own thread.</summary>
internal interface IKafkaCommitter
{
    Task CommitAsync(IReadOnlyList<TopicPartitionOffset> offsets);
}
