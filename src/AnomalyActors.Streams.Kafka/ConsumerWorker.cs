using System.Collections.Concurrent;
using System.Threading.Channels;
using Confluent.Kafka;

namespace AnomalyActors.Streams.Kafka;

/// <summary>
/// The messages fetched for one assigned partition, waiting for its sub-source. Written by the
/// consumer thread, read by the stage; revocation completes it and drops what is still buffered,
/// because from then on another group member reads the partition.
/// </summary>
/// <remarks>
/// Messages cross from the consumer thread to the stage in chunks: the consumer thread fills a
/// chunk and hands it over when it is full or when <see cref="Flush"/> is called (the worker does
/// so whenever librdkafka has nothing more queued, so a quiet partition waits for nothing). One
/// channel write and one counter update per chunk instead of per message.
/// </remarks>
internal sealed class PartitionBuffer<TKey, TValue>(TopicPartition partition)
{
    /// <summary>Messages per chunk: big enough to amortize the hand-over, small enough to keep the stage busy early.</summary>
    internal const int ChunkSize = 64;

    // Single reader and writer: the cheapest channel; it cannot count, so the buffer counts itself.
    private readonly Channel<ConsumeResult<TKey, TValue>[]> _channel =
        Channel.CreateUnbounded<ConsumeResult<TKey, TValue>[]>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });

    // One counter per side, each written by its own thread only and kept on its own cache line:
    // a shared interlocked count bounced one line between the consumer thread and the stage on
    // every message.
    private PaddedCounter _written;
    private PaddedCounter _read;
    private volatile bool _revoked;

    // Writer side (consumer thread only).
    private ConsumeResult<TKey, TValue>[]? _filling;
    private int _filled;

    // Reader side (stage only).
    private ConsumeResult<TKey, TValue>[]? _reading;
    private int _readIndex;

    public TopicPartition Partition { get; } = partition;

    public bool Paused { get; set; }

    public bool Revoked => _revoked;

    /// <summary>Messages fetched and not yet read by the stage; for the consumer thread (it alone sees the chunk being filled).</summary>
    public long Count => _written.Value + _filled - _read.Value;

    public ChannelReader<ConsumeResult<TKey, TValue>[]> Reader => _channel.Reader;

    public void Write(ConsumeResult<TKey, TValue> result)
    {
        var chunk = _filling ??= new ConsumeResult<TKey, TValue>[ChunkSize];
        chunk[_filled++] = result;
        if (_filled == chunk.Length)
        {
            Flush();
        }
    }

    /// <summary>Hands the partly filled chunk to the stage (consumer thread).</summary>
    public void Flush()
    {
        if (_filled == 0)
        {
            return;
        }

        var chunk = _filling!;
        if (_filled < chunk.Length)
        {
            Array.Resize(ref chunk, _filled);
        }

        if (_channel.Writer.TryWrite(chunk))
        {
            _written.Add(chunk.Length);
        }

        _filling = null;
        _filled = 0;
    }

    public bool TryRead(out ConsumeResult<TKey, TValue> result)
    {
        if (_reading is null || _readIndex == _reading.Length)
        {
            if (!_channel.Reader.TryRead(out var next))
            {
                _reading = null;
                result = null!;
                return false;
            }

            _reading = next;
            _readIndex = 0;
            _read.Add(next.Length);
        }

        result = _reading[_readIndex];
        // Read messages are not kept alive for as long as the rest of their chunk waits.
        _reading[_readIndex++] = null!;
        return true;
    }

    public void Revoke()
    {
        _revoked = true;
        _channel.Writer.TryComplete();
    }

    /// <summary>The consumer stopped: the sub-source completes after what is buffered.</summary>
    public void Complete()
    {
        Flush();
        _channel.Writer.TryComplete();
    }
}

/// <summary>A count with one writing thread, alone on its cache line.</summary>
[System.Runtime.InteropServices.StructLayout(System.Runtime.InteropServices.LayoutKind.Explicit, Size = 128)]
internal struct PaddedCounter
{
    [System.Runtime.InteropServices.FieldOffset(64)]
    private long _value;

    public readonly long Value => Volatile.Read(in _value);

    public void Add(long amount) => Volatile.Write(ref _value, _value + amount);
}

/// <summary>
/// Owns one Confluent consumer on a dedicated thread: Consume blocks, so it never runs on a
/// dispatcher thread. Everything that touches the consumer (polling, commits, pause/resume and the
/// rebalance callbacks, which librdkafka runs inside Consume) happens here; other threads enqueue
/// commands.
/// </summary>
internal sealed class ConsumerWorker<TKey, TValue> : IKafkaCommitter
{
    private readonly ConsumerSettings<TKey, TValue> _settings;
    private readonly ISubscription _subscription;
    private readonly Action<PartitionBuffer<TKey, TValue>> _assigned;
    private readonly Action<Exception> _failed;
    private readonly ConcurrentQueue<(IReadOnlyList<TopicPartitionOffset> Offsets, TaskCompletionSource Done)> _commands = new();
    private readonly Dictionary<TopicPartition, PartitionBuffer<TKey, TValue>> _buffers = new();
    private readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Thread _thread;
    private volatile bool _stopRequested;
    private volatile bool _stopDelivering;
    private bool _delivering = true;
    private PartitionBuffer<TKey, TValue>? _last;

    public ConsumerWorker(
        ConsumerSettings<TKey, TValue> settings,
        ISubscription subscription,
        Action<PartitionBuffer<TKey, TValue>> assigned,
        Action<Exception> failed)
    {
        _settings = settings;
        _subscription = subscription;
        _assigned = assigned;
        _failed = failed;
        _thread = new Thread(Run) { IsBackground = true, Name = "kafka-consumer-" + (settings.GroupId ?? "nogroup") };
    }

    public Task Closed => _closed.Task;

    public void Start() => _thread.Start();

    public void RequestStop() => _stopRequested = true;

    /// <summary>
    /// Draining: buffered messages still go out, nothing new is fetched or handed over, and commits
    /// keep working until <see cref="RequestStop"/>.
    /// </summary>
    public void StopDelivering() => _stopDelivering = true;

    public Task CommitAsync(IReadOnlyList<TopicPartitionOffset> offsets)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (_closed.Task.IsCompleted)
        {
            done.SetException(new InvalidOperationException("The consumer is closed; offsets were not committed."));
            return done.Task;
        }

        _commands.Enqueue((offsets, done));
        return done.Task;
    }

    private void Commit(IConsumer<TKey, TValue> consumer, IReadOnlyList<TopicPartitionOffset> offsets)
    {
        // A late commit for a partition this member no longer owns would race the new owner.
        var owned = offsets.Where(o => _buffers.ContainsKey(o.TopicPartition)).ToList();
        if (owned.Count > 0)
        {
            consumer.Commit(owned);
        }
    }

    private void Run()
    {
        IConsumer<TKey, TValue>? consumer = null;
        try
        {
            var builder = new ConsumerBuilder<TKey, TValue>(_settings.CreateConsumerConfig())
                .SetPartitionsAssignedHandler((_, partitions) =>
                {
                    foreach (var partition in partitions)
                    {
                        var buffer = new PartitionBuffer<TKey, TValue>(partition);
                        _buffers[partition] = buffer;
                        _assigned(buffer);
                    }

                    _last = null;
                })
                .SetPartitionsRevokedHandler((c, partitions) =>
                {
                    // Commits already requested cover only durable work: let them through while
                    // this member still owns the partitions, then abandon the rest.
                    RunCommands(c);
                    foreach (var partition in partitions)
                    {
                        Drop(partition.TopicPartition);
                    }
                })
                .SetPartitionsLostHandler((_, partitions) =>
                {
                    foreach (var partition in partitions)
                    {
                        Drop(partition.TopicPartition);
                    }
                })
                .SetErrorHandler((_, _) =>
                {
                    // Transport errors (a broker down) are retried by librdkafka itself; only fatal
                    // ones end the consumer, and Consume reports those as exceptions.
                });
            if (_settings.KeyDeserializer is not null)
            {
                builder.SetKeyDeserializer(_settings.KeyDeserializer);
            }

            if (_settings.ValueDeserializer is not null)
            {
                builder.SetValueDeserializer(_settings.ValueDeserializer);
            }

            consumer = builder.Build();
            consumer.Subscribe(_subscription.Topics);
            var high = _settings.PartitionBufferSize;
            var sincePauseCheck = 0;
            while (!_stopRequested)
            {
                RunCommands(consumer);
                if (_stopDelivering && _delivering)
                {
                    _delivering = false;
                    foreach (var buffer in _buffers.Values)
                    {
                        buffer.Complete();
                    }

                    consumer.Pause(consumer.Assignment);
                }

                if (!_delivering)
                {
                    // Polling still serves the group (heartbeats, rebalance callbacks) and commits.
                    consumer.Consume(_settings.PollTimeout);
                    continue;
                }

                ConsumeResult<TKey, TValue>? result;
                try
                {
                    // What librdkafka already holds is taken without waiting; before blocking, the
                    // partly filled chunks go to the stages, so nothing waits for a chunk to fill.
                    result = consumer.Consume(0);
                    if (result is null)
                    {
                        FlushAll();
                        result = consumer.Consume(_settings.PollTimeout);
                    }
                }
                catch (ConsumeException e) when (!e.Error.IsFatal)
                {
                    continue;
                }

                if (result is { IsPartitionEOF: false, Message: not null } && BufferFor(result) is { } target)
                {
                    target.Write(result);
                    if (++sincePauseCheck < 256)
                    {
                        continue;
                    }
                }

                sincePauseCheck = 0;
                // A steady backlog never leaves librdkafka's queue empty: this bounds how long a
                // message can sit in a chunk to 256 consumed messages.
                FlushAll();
                foreach (var buffer in _buffers.Values)
                {
                    if (!buffer.Paused && buffer.Count >= high)
                    {
                        consumer.Pause([buffer.Partition]);
                        buffer.Paused = true;
                    }
                    else if (buffer.Paused && buffer.Count <= high / 2)
                    {
                        consumer.Resume([buffer.Partition]);
                        buffer.Paused = false;
                    }
                }
            }

            RunCommands(consumer);
            foreach (var buffer in _buffers.Values)
            {
                buffer.Complete();
            }

            consumer.Close();
        }
        catch (Exception e)
        {
            foreach (var buffer in _buffers.Values)
            {
                buffer.Revoke();
            }

            _failed(e);
        }
        finally
        {
            consumer?.Dispose();
            _buffers.Clear();
            FailPendingCommands();
            _closed.TrySetResult();
            FailPendingCommands();
        }
    }

    /// <summary>
    /// The buffer of the message's partition. Messages come in runs per partition (one fetch response
    /// at a time), so the last buffer is tried first: <see cref="ConsumeResult{TKey,TValue}.TopicPartition"/>
    /// allocates, and hashing it hashes the topic name, once per message otherwise.
    /// </summary>
    private PartitionBuffer<TKey, TValue>? BufferFor(ConsumeResult<TKey, TValue> result)
    {
        if (_last is { } last && !last.Revoked && last.Partition.Partition.Value == result.Partition.Value
            && string.Equals(last.Partition.Topic, result.Topic, StringComparison.Ordinal))
        {
            return last;
        }

        _last = _buffers.TryGetValue(result.TopicPartition, out var found) ? found : null;
        return _last;
    }

    private void FlushAll()
    {
        foreach (var buffer in _buffers.Values)
        {
            buffer.Flush();
        }
    }

    private void Drop(TopicPartition partition)
    {
        if (_buffers.Remove(partition, out var buffer))
        {
            buffer.Revoke();
        }

        _last = null;
    }

    private void RunCommands(IConsumer<TKey, TValue> consumer)
    {
        while (_commands.TryDequeue(out var command))
        {
            try
            {
                Commit(consumer, command.Offsets);
                command.Done.TrySetResult();
            }
            catch (Exception e)
            {
                command.Done.TrySetException(e);
            }
        }
    }

    private void FailPendingCommands()
    {
        // Commits that arrive after close find no consumer: their tasks fail instead of hanging.
        while (_commands.TryDequeue(out var command))
        {
            command.Done.TrySetException(new InvalidOperationException("The consumer closed before the offsets were committed."));
        }
    }
}
