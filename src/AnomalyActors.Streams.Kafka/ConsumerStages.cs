using Akka;
using Akka.Streams;
using Akka.Streams.Dsl;
using Akka.Streams.Stage;
using Confluent.Kafka;

namespace AnomalyActors.Streams.Kafka;

/// <summary>
/// Emits one sub-source per assigned partition; a sub-source completes when its partition is revoked
/// (abandoning what was fetched but not emitted) or the consumer stops.
/// </summary>
internal sealed class PartitionedSourceStage<TKey, TValue>(ConsumerSettings<TKey, TValue> settings, ISubscription subscription)
    : GraphStageWithMaterializedValue<SourceShape<(TopicPartition, Source<CommittableMessage<TKey, TValue>, NotUsed>)>, IControl>
{
    private ConsumerSettings<TKey, TValue> Settings { get; } = settings;
    private ISubscription Subscription { get; } = subscription;

    private readonly Outlet<(TopicPartition, Source<CommittableMessage<TKey, TValue>, NotUsed>)> _out = new("kafka.partitions");

    public override SourceShape<(TopicPartition, Source<CommittableMessage<TKey, TValue>, NotUsed>)> Shape => new(_out);

    public override ILogicAndMaterializedValue<IControl> CreateLogicAndMaterializedValue(Attributes inheritedAttributes)
    {
        var logic = new Logic(this);
        return new LogicAndMaterializedValue<IControl>(logic, logic.Control);
    }

    private sealed class Logic : OutGraphStageLogic
    {
        private readonly PartitionedSourceStage<TKey, TValue> _stage;
        private readonly Queue<PartitionBuffer<TKey, TValue>> _pending = new();
        private readonly ConsumerControl _control;
        private ConsumerWorker<TKey, TValue>? _worker;

        public Logic(PartitionedSourceStage<TKey, TValue> stage) : base(stage.Shape)
        {
            _stage = stage;
            _control = new ConsumerControl();
            SetHandler(stage._out, this);
        }

        public IControl Control => _control;

        public override void PreStart()
        {
            var assigned = GetAsyncCallback<PartitionBuffer<TKey, TValue>>(buffer =>
            {
                _pending.Enqueue(buffer);
                TryPush();
            });
            var failed = GetAsyncCallback<Exception>(FailStage);
            _control.StopCallback = GetAsyncCallback(() =>
            {
                Draining = true;
                _worker?.StopDelivering();
                CompleteStage();
            });
            _worker = new ConsumerWorker<TKey, TValue>(_stage.Settings, _stage.Subscription, assigned, failed);
            _control.Worker = _worker;
            _worker.Start();
        }

        public override void OnPull() => TryPush();

        private void TryPush()
        {
            while (IsAvailable(_stage._out) && _pending.TryDequeue(out var buffer))
            {
                if (buffer.Revoked)
                {
                    continue;
                }

                var worker = _worker!;
                Push(_stage._out, (buffer.Partition, Source.FromGraph(new PartitionSourceStage<TKey, TValue>(buffer, worker))));
            }
        }

        public bool Draining { get; set; }

        public override void PostStop()
        {
            // Downstream cancelled or the stream failed: the consumer must not outlive the stream.
            // After Stop (draining) it stays open for the commits of what is still in flight,
            // until Shutdown.
            if (!Draining)
            {
                _worker?.RequestStop();
            }
        }
    }

    private sealed class ConsumerControl : IControl
    {
        private readonly TaskCompletionSource _stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Action? StopCallback { get; set; }

        public ConsumerWorker<TKey, TValue>? Worker { get; set; }

        public Task IsShutdown => Worker?.Closed ?? Task.CompletedTask;

        public Task Stop()
        {
            if (_stopped.TrySetResult())
            {
                StopCallback?.Invoke();
            }

            return Task.CompletedTask;
        }

        public async Task Shutdown()
        {
            await Stop().ConfigureAwait(false);
            Worker?.RequestStop();
            await IsShutdown.ConfigureAwait(false);
        }
    }
}

/// <summary>The messages of one partition, in order, each with its committable offset.</summary>
internal sealed class PartitionSourceStage<TKey, TValue>(PartitionBuffer<TKey, TValue> buffer, IKafkaCommitter committer)
    : GraphStage<SourceShape<CommittableMessage<TKey, TValue>>>
{
    private PartitionBuffer<TKey, TValue> Buffer { get; } = buffer;
    private IKafkaCommitter PartitionCommitter { get; } = committer;

    private readonly Outlet<CommittableMessage<TKey, TValue>> _out = new("kafka.partition");

    public override SourceShape<CommittableMessage<TKey, TValue>> Shape => new(_out);

    protected override GraphStageLogic CreateLogic(Attributes inheritedAttributes) => new Logic(this);

    private sealed class Logic : OutGraphStageLogic
    {
        private readonly PartitionSourceStage<TKey, TValue> _stage;
        private Action? _wake;
        private bool _waiting;

        public Logic(PartitionSourceStage<TKey, TValue> stage) : base(stage.Shape)
        {
            _stage = stage;
            SetHandler(stage._out, this);
        }

        public override void PreStart() => _wake = GetAsyncCallback(() =>
        {
            _waiting = false;
            if (IsAvailable(_stage._out))
            {
                OnPull();
            }
        });

        public override void OnPull()
        {
            var buffer = _stage.Buffer;
            if (buffer.Revoked)
            {
                CompleteStage();
                return;
            }

            if (buffer.TryRead(out var result))
            {
                // The buffer's TopicPartition: ConsumeResult.TopicPartition allocates a new one per call.
                Push(_stage._out, new CommittableMessage<TKey, TValue>(result, _stage.PartitionCommitter, buffer.Partition));
                return;
            }

            if (buffer.Reader.Completion.IsCompleted)
            {
                CompleteStage();
                return;
            }

            if (!_waiting)
            {
                _waiting = true;
                var wake = _wake!;
                _ = buffer.Reader.WaitToReadAsync().AsTask().ContinueWith(_ => wake(), TaskScheduler.Default);
            }
        }
    }
}

public static class KafkaConsumer
{
    /// <summary>
    /// One (partition, sub-source) per assigned partition. A sub-source completes when its partition
    /// is revoked; commits of it after that are dropped, and the next owner resumes from the
    /// committed offset.
    /// </summary>
    public static Source<(TopicPartition Partition, Source<CommittableMessage<TKey, TValue>, NotUsed> Messages), IControl> CommittablePartitionedSource<TKey, TValue>(
        ConsumerSettings<TKey, TValue> settings,
        ISubscription subscription) =>
        Source.FromGraph(new PartitionedSourceStage<TKey, TValue>(settings, subscription));
}

public static class Committer
{
    /// <summary>
    /// Batches committables (highest offset per partition) and commits every
    /// <see cref="CommitterSettings.MaxBatch"/> offsets or <see cref="CommitterSettings.MaxInterval"/>.
    /// A failed commit (say the coordinator is unreachable) is not fatal: a later batch commits a
    /// higher position for the same partitions. Emits the number of offsets each commit covered
    /// (0 for a failed commit).
    /// </summary>
    public static Flow<ICommittable, int, NotUsed> Flow(CommitterSettings settings, Action<Exception>? onCommitFailure = null) =>
        Akka.Streams.Dsl.Flow.Create<ICommittable>()
            .GroupedWithin(settings.MaxBatch, settings.MaxInterval)
            .SelectAsync(settings.Parallelism, async group =>
            {
                var batch = new CommittableOffsetBatch();
                foreach (var committable in group)
                {
                    batch.Add(committable);
                }

                try
                {
                    await batch.CommitAsync().ConfigureAwait(false);
                }
                catch (Exception e) when (e is KafkaException or InvalidOperationException)
                {
                    onCommitFailure?.Invoke(e);
                    return 0;
                }

                return batch.BatchSize;
            });
}
