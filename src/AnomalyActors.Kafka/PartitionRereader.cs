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
/// Serves a sensor's <see cref="RedeliverReadings"/> for its partition actor: the stream's readings
/// read again straight from the partition by a short-lived assigned consumer (no group, nothing
/// committed), from the requested offset up to the partition's end at request time, then
/// <see cref="RedeliveryCompleted"/>. Decoded by the same step as the live path; a message that does
/// not decode was dead-lettered when it was first consumed, so it is skipped here, not written again.
/// A few requests run at a time, each on its own thread: a blocking consumer must not hold up actors.
/// </summary>
public sealed class PartitionRereader(KafkaSettings settings, IngestionSettings ingestion, KafkaMetrics metrics) : IDisposable
{
    /// <summary>Readings per re-delivered slice.</summary>
    public const int SliceLimit = 4096;

    private readonly SemaphoreSlim _concurrent = new(2);

    /// <param name="partitionActor">Sent as the slices' sender: the sensor's log partition.</param>
    public void Serve(RedeliverReadings request, IActorRef requester, IActorRef partitionActor, ILoggingAdapter log)
    {
        metrics.Redelivered();
        log.Info("Re-reading partition {0} of {1} for {2} from offset {3}", request.PartitionId, settings.ReadingsTopic, request.SensorId, request.FromOffset);
        Task.Factory.StartNew(
            () => Read(request, requester, partitionActor, log),
            CancellationToken.None,
            TaskCreationOptions.LongRunning,
            TaskScheduler.Default);
    }

    private void Read(RedeliverReadings request, IActorRef requester, IActorRef partitionActor, ILoggingAdapter log)
    {
        _concurrent.Wait();
        try
        {
            var config = new ConsumerConfig
            {
                BootstrapServers = settings.BootstrapServers,
                GroupId = settings.GroupId + "-redelivery",
                EnableAutoCommit = false,
                EnableAutoOffsetStore = false,
            };
            foreach (var (key, value) in settings.ConsumerProperties)
            {
                config.Set(key, value);
            }

            using var consumer = new ConsumerBuilder<string?, byte[]>(config).SetValueDeserializer(Deserializers.ByteArray).Build();
            var partition = new TopicPartition(settings.ReadingsTopic, request.PartitionId);
            var end = consumer.QueryWatermarkOffsets(partition, TimeSpan.FromSeconds(30)).High.Value;
            var position = ExternalOffsets.MessageOf(request.FromOffset);
            consumer.Assign(new TopicPartitionOffset(partition, position));
            var decoder = new MessageDecoder(ingestion, counters: null);
            var source = $"kafka:{settings.ReadingsTopic}/{request.PartitionId}";
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
                    if (offset >= request.FromOffset && decoded[i].StreamKey == request.SensorId)
                    {
                        chunk.Add(request.SensorId, decoded[i].TimestampMs, decoded[i].Value, offset);
                    }
                }

                if (chunk.Count >= SliceLimit)
                {
                    Send(chunk, request, requester, partitionActor);
                }
            }

            Send(chunk, request, requester, partitionActor);
        }
        catch (Exception e)
        {
            // The sensor goes on without what is missing, and says so.
            log.Error(e, "Re-reading partition {0} for {1} failed", request.PartitionId, request.SensorId);
        }
        finally
        {
            _concurrent.Release();
            requester.Tell(new RedeliveryCompleted(request.SensorId, request.PartitionId), partitionActor);
        }
    }

    private static void Send(ChunkBuilder builder, RedeliverReadings request, IActorRef requester, IActorRef partitionActor)
    {
        if (builder.Count == 0)
        {
            return;
        }

        // One stream only, so the chunk holds one group, and each slice follows the one before.
        requester.Tell(builder.Build().Slice(0, request.PartitionId, 0, -1, replay: true), partitionActor);
    }

    public void Dispose() => _concurrent.Dispose();
}
