using Akka.Actor;
using AnomalyActors.Core.Commands;
using AnomalyActors.Core.Protocol;
using AnomalyActors.Node.Settings;

namespace AnomalyActors.Node.Actors;

/// <summary>
/// The node's intake entry point: splits a source batch by partition, appends each share to its
/// partition, and answers the source once every share is durable (or that it failed, so the
/// source can resend; resends are de-duplicated by the partitions).
/// </summary>
public sealed class IntakeRouter : ReceiveActor, IWithTimers
{
    private readonly Dictionary<(string Source, long Seq), PendingBatch> _pending = new();
    private readonly IActorRef _partitions;
    private readonly IntakeSettings _settings;

    public IntakeRouter(IActorRef partitions, IntakeSettings settings)
    {
        _partitions = partitions;
        _settings = settings;

        Receive<IngestReadings>(Ingest);
        Receive<ChunkAppended>(appended => Settle(appended.SourceId, appended.SourceSeq, failure: null));
        Receive<ChunkAppendFailed>(failed => Settle(failed.SourceId, failed.SourceSeq, failed.Reason));
        Receive<BatchTimedOut>(timedOut => Settle(timedOut.SourceId, timedOut.SourceSeq,
            $"not durable within {_settings.AppendTimeout.TotalSeconds:0.#} s"));
    }

    public ITimerScheduler Timers { get; set; } = null!;

    private void Ingest(IngestReadings batch)
    {
        var key = (batch.SourceId, batch.SourceSeq);
        if (_pending.ContainsKey(key))
        {
            // A resend while the first attempt is still in flight: one answer will do for both.
            _pending[key].AddWaiter(Sender);
            return;
        }

        if (batch.Deliveries is { } checkedLog && checkedLog.ReadingCount != batch.Readings.Length)
        {
            Sender.Tell(new ReadingsRejected(batch.SourceId, batch.SourceSeq,
                $"its delivery log covers {checkedLog.ReadingCount} readings, the batch has {batch.Readings.Length}"));
            return;
        }

        var partitionCount = _settings.Partitions;
        var shares = new List<Reading>?[partitionCount];
        var deliveries = batch.Deliveries is null ? null : new List<Delivery>?[partitionCount];
        if (batch.Deliveries is { } log)
        {
            // Each message's readings go with its key to every partition that gets some of them.
            var counts = new int[partitionCount];
            var at = 0;
            foreach (var delivery in log.Items)
            {
                for (var i = at; i < at + delivery.ReadingCount; i++)
                {
                    var p = Partitioner.PartitionOf(batch.Readings[i].StreamKey, partitionCount);
                    (shares[p] ??= new List<Reading>(batch.Readings.Length / partitionCount + 16)).Add(batch.Readings[i]);
                    counts[p]++;
                }

                for (var i = at; i < at + delivery.ReadingCount; i++)
                {
                    var p = Partitioner.PartitionOf(batch.Readings[i].StreamKey, partitionCount);
                    if (counts[p] > 0)
                    {
                        (deliveries![p] ??= new List<Delivery>(log.Items.Length / partitionCount + 16)).Add(delivery with { ReadingCount = counts[p] });
                        counts[p] = 0;
                    }
                }

                at += delivery.ReadingCount;
            }
        }
        else
        {
            foreach (var reading in batch.Readings)
            {
                var p = Partitioner.PartitionOf(reading.StreamKey, partitionCount);
                (shares[p] ??= new List<Reading>(batch.Readings.Length / partitionCount + 16)).Add(reading);
            }
        }

        var outstanding = 0;
        for (var p = 0; p < partitionCount; p++)
        {
            if (shares[p] is { } share)
            {
                outstanding++;
                var shareDeliveries = deliveries?[p] is { } items ? new DeliveryLog(items.ToArray()) : null;
                _partitions.Tell(new AppendChunk(p, batch.SourceId, batch.SourceSeq, share.ToArray(), shareDeliveries));
            }
        }

        if (outstanding == 0)
        {
            Sender.Tell(new ReadingsAccepted(batch.SourceId, batch.SourceSeq, 0));
            return;
        }

        _pending[key] = new PendingBatch(Sender, outstanding, batch.Readings.Length);
        Timers.StartSingleTimer(key, new BatchTimedOut(batch.SourceId, batch.SourceSeq), _settings.AppendTimeout);
    }

    private void Settle(string sourceId, long sourceSeq, string? failure)
    {
        var key = (sourceId, sourceSeq);
        if (!_pending.TryGetValue(key, out var pending))
        {
            return;
        }

        if (failure is null && --pending.Outstanding > 0)
        {
            return;
        }

        _pending.Remove(key);
        Timers.Cancel(key);
        object reply = failure is null
            ? new ReadingsAccepted(sourceId, sourceSeq, pending.Count)
            : new ReadingsRejected(sourceId, sourceSeq, failure);
        foreach (var waiter in pending.Waiters)
        {
            waiter.Tell(reply);
        }
    }

    public static Props Props(IActorRef partitions, IntakeSettings settings) =>
        Akka.Actor.Props.Create(() => new IntakeRouter(partitions, settings));

    private sealed class PendingBatch(IActorRef replyTo, int outstanding, int count)
    {
        public List<IActorRef> Waiters { get; } = [replyTo];
        public int Outstanding { get; set; } = outstanding;
        public int Count { get; } = count;

        public void AddWaiter(IActorRef waiter) => Waiters.Add(waiter);
    }

    private sealed record BatchTimedOut(string SourceId, long SourceSeq);
}
