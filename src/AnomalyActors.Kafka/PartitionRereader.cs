using Akka.Actor;
using Akka.Event;
using AnomalyActors.Core.Commands;
using AnomalyActors.Core.Protocol;
using AnomalyActors.Core.State;
using AnomalyActors.Ingestion;
using AnomalyActors.Ingestion.Intake;
using Confluent.Kafka;

namespace AnomalyActors.Kafka;

/// <summary>
/// Serves sensors' <see cref="RedeliverReadings"/> for their partition actors: the streams' readings
/// read again straight from the partition by a short-lived assigned consumer (no group, nothing
/// committed), from the requested offset up to the partition's end when the pass began, then
/// <see cref="RedeliveryCompleted"/>. Requests for one partition that arrive together (every sensor
/// of a member that died asks at once) share one pass over the partition instead of reading it once
/// per sensor; requests that arrive during a pass wait for the next one. Decoded by the same step as
/// the live path; a message that does not decode was dead-lettered when it was first consumed, so it
/// is skipped here, not written again. A few passes run at a time, each on its own thread: a
/// blocking consumer must not hold up actors.
/// </summary>
public sealed class PartitionRereader(KafkaSettings settings, IngestionSettings ingestion, KafkaMetrics metrics) : IDisposable
{
    /// <summary>Readings held before they go out as slices.</summary>
    public const int SliceLimit = 4096;

    private readonly SemaphoreSlim _concurrent = new(2);
    private readonly object _gate = new();

    // Per partition: the requests waiting for the next pass, by sensor. A partition with an entry
    // here has a pass running or about to start.
    private readonly Dictionary<int, Dictionary<string, Request>> _waiting = [];

    /// <param name="partitionActor">Sent as the slices' sender: the sensor's log partition.</param>
    public void Serve(RedeliverReadings request, IActorRef requester, IActorRef partitionActor, ILoggingAdapter log)
    {
        metrics.Redelivered();
        log.Info("Re-reading partition {0} of {1} for {2} from offset {3}", request.PartitionId, settings.ReadingsTopic, request.SensorId, request.FromOffset);
        lock (_gate)
        {
            if (_waiting.TryGetValue(request.PartitionId, out var waiting))
            {
                waiting[request.SensorId] = waiting.TryGetValue(request.SensorId, out var earlier)
                    ? earlier.Merge(request, requester, partitionActor)
                    : new Request(request, requester, partitionActor);
                return;
            }

            _waiting[request.PartitionId] = new Dictionary<string, Request>(StringComparer.Ordinal)
            {
                [request.SensorId] = new Request(request, requester, partitionActor),
            };
        }

        Task.Factory.StartNew(
            () => Passes(request.PartitionId, log),
            CancellationToken.None,
            TaskCreationOptions.LongRunning,
            TaskScheduler.Default);
    }

    private void Passes(int partition, ILoggingAdapter log)
    {
        while (true)
        {
            Dictionary<string, Request> requests;
            lock (_gate)
            {
                requests = _waiting[partition];
                if (requests.Count == 0)
                {
                    _waiting.Remove(partition);
                    return;
                }

                _waiting[partition] = new Dictionary<string, Request>(StringComparer.Ordinal);
            }

            _concurrent.Wait();
            try
            {
                Read(partition, requests);
            }
            catch (Exception e)
            {
                // The sensors go on without what is missing, and say so.
                log.Error(e, "Re-reading partition {0} for {1} sensors failed", partition, requests.Count);
            }
            finally
            {
                _concurrent.Release();
                foreach (var (sensorId, request) in requests)
                {
                    request.Complete(new RedeliveryCompleted(sensorId, partition));
                }
            }
        }
    }

    private void Read(int partitionId, Dictionary<string, Request> requests)
    {
        var config = settings.ReaderConfig("-redelivery");

        using var consumer = new ConsumerBuilder<string?, byte[]>(config).SetValueDeserializer(Deserializers.ByteArray).Build();
        var partition = new TopicPartition(settings.ReadingsTopic, partitionId);
        var end = consumer.QueryWatermarkOffsets(partition, TimeSpan.FromSeconds(30)).High.Value;
        var from = long.MaxValue;
        foreach (var request in requests.Values)
        {
            from = Math.Min(from, request.FromOffset);
        }

        var position = ExternalOffsets.MessageOf(from);
        consumer.Assign(new TopicPartitionOffset(partition, position));
        var decoder = new MessageDecoder(ingestion, counters: null);
        var source = $"kafka:{settings.ReadingsTopic}/{partitionId}";
        var chunk = new ChunkBuilder();
        var decoded = new List<Reading>();
        while (position < end)
        {
            var result = consumer.Consume(TimeSpan.FromSeconds(1));
            if (result?.Message is null)
            {
                continue;
            }

            position = result.Offset.Value + 1;
            decoded.Clear();
            var message = new SourceMessage(source, result.Offset.Value, result.Message.Key ?? settings.ReadingsTopic, result.Message.Value ?? [], result.Message.Timestamp.UnixTimestampMs);
            if (decoder.Decode(message, decoded) is not null)
            {
                continue;
            }

            for (var i = 0; i < decoded.Count; i++)
            {
                var offset = ExternalOffsets.Compose(result.Offset.Value, i);
                if (requests.TryGetValue(decoded[i].StreamKey, out var request) && offset >= request.FromOffset)
                {
                    chunk.Add(decoded[i].StreamKey, decoded[i].TimestampMs, decoded[i].Value, offset);
                }
            }

            if (chunk.Count >= SliceLimit)
            {
                Send(chunk, partitionId, requests);
            }
        }

        Send(chunk, partitionId, requests);
    }

    private static void Send(ChunkBuilder builder, int partitionId, Dictionary<string, Request> requests)
    {
        if (builder.Count == 0)
        {
            return;
        }

        // Each stream's slices follow one another in log order, so each is contiguous with the last.
        var chunk = builder.Build();
        for (var g = 0; g < chunk.Keys.Length; g++)
        {
            requests[chunk.Keys[g]].Send(chunk.Slice(g, partitionId, 0, -1, replay: true));
        }
    }

    public void Dispose() => _concurrent.Dispose();

    /// <summary>
    /// One sensor's request. A sensor that asked again before its pass keeps the earlier start and
    /// is answered where it asked last (a sensor id is one entity, perhaps restarted meanwhile).
    /// </summary>
    private sealed record Request(long FromOffset, IActorRef Requester, IActorRef PartitionActor)
    {
        public Request(RedeliverReadings request, IActorRef requester, IActorRef partitionActor)
            : this(request.FromOffset, requester, partitionActor)
        {
        }

        public Request Merge(RedeliverReadings again, IActorRef requester, IActorRef partitionActor) =>
            new(Math.Min(FromOffset, again.FromOffset), requester, partitionActor);

        public void Send(ScoreReadings slice) => Requester.Tell(slice, PartitionActor);

        public void Complete(RedeliveryCompleted done) => Requester.Tell(done, PartitionActor);
    }
}
