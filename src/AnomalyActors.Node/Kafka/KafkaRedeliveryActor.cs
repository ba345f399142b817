using Akka.Actor;
using Akka.Event;
using AnomalyActors.Core.Commands;
using AnomalyActors.Core.Protocol;
using AnomalyActors.Core.State;
using AnomalyActors.Ingestion;
using AnomalyActors.Ingestion.Payload;
using Confluent.Kafka;

namespace AnomalyActors.Node.Kafka;

/// <summary>
/// Serves <see cref="RedeliverReadings"/> in Kafka mode: a sensor that lost slices (it failed with
/// them in its mailbox, or they were in flight to a node that died) gets its stream's readings again
/// straight from the partition, read by a short-lived assigned consumer (no group, nothing
/// committed) from the requested offset up to the partition's end at request time; then
/// <see cref="RedeliveryCompleted"/>. Independent of which node owns the partition, so a sensor can
/// always ask its own node.
/// </summary>
public sealed class KafkaRedeliveryActor : ReceiveActor
{
    private const int SliceLimit = 4096;
    private readonly SemaphoreSlim _concurrent = new(2);

    public KafkaRedeliveryActor(KafkaSettings settings, IngestionSettings ingestion, KafkaMetrics metrics)
    {
        var log = Context.GetLogger();
        Receive<RedeliverReadings>(request =>
        {
            metrics.Redelivered();
            var requester = Sender;
            log.Info("Re-reading partition {0} of {1} for {2} from offset {3}", request.PartitionId, settings.ReadingsTopic, request.SensorId, request.FromOffset);
            Task.Factory.StartNew(
                () => Serve(settings, ingestion.CreateParser(), request, requester, log),
                CancellationToken.None,
                TaskCreationOptions.LongRunning,
                TaskScheduler.Default);
        });
        Receive<ReportCheckpoint>(_ => { });
    }

    private void Serve(KafkaSettings settings, PayloadParser parser, RedeliverReadings request, IActorRef requester, ILoggingAdapter log)
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
            using var consumer = new ConsumerBuilder<string?, byte[]>(config).SetValueDeserializer(Deserializers.ByteArray).Build();
            var partition = new TopicPartition(settings.ReadingsTopic, request.PartitionId);
            var end = consumer.QueryWatermarkOffsets(partition, TimeSpan.FromSeconds(30)).High.Value;
            var position = ExternalOffsets.MessageOf(request.FromOffset);
            consumer.Assign(new TopicPartitionOffset(partition, position));
            var offsets = new List<long>();
            var timestamps = new List<long>();
            var values = new List<double>();
            var parsed = new List<Reading>();
            while (position < end)
            {
                var result = consumer.Consume(TimeSpan.FromSeconds(1));
                if (result?.Message is null)
                {
                    continue;
                }

                position = result.Offset.Value + 1;
                parsed.Clear();
                if (!parser.Parse(result.Message.Key ?? settings.ReadingsTopic, result.Message.Value ?? [], result.Message.Timestamp.UnixTimestampMs, parsed).Ok
                    || parsed.Count > ExternalOffsets.MaxReadingsPerMessage)
                {
                    continue;
                }

                for (var i = 0; i < parsed.Count; i++)
                {
                    var offset = ExternalOffsets.Compose(result.Offset.Value, i);
                    if (parsed[i].StreamKey == request.SensorId && offset >= request.FromOffset)
                    {
                        offsets.Add(offset);
                        timestamps.Add(parsed[i].TimestampMs);
                        values.Add(parsed[i].Value);
                    }
                }

                if (offsets.Count >= SliceLimit)
                {
                    Send(request, requester, offsets, timestamps, values);
                }
            }

            Send(request, requester, offsets, timestamps, values);
        }
        catch (Exception e)
        {
            // The sensor goes on with what it has; its gap is logged there as lost for good.
            log.Error(e, "Re-reading partition {0} for {1} failed", request.PartitionId, request.SensorId);
        }
        finally
        {
            _concurrent.Release();
            requester.Tell(new RedeliveryCompleted(request.SensorId, request.PartitionId));
        }
    }

    private static void Send(RedeliverReadings request, IActorRef requester, List<long> offsets, List<long> timestamps, List<double> values)
    {
        if (offsets.Count == 0)
        {
            return;
        }

        requester.Tell(new ScoreReadings(request.SensorId, request.PartitionId, offsets[0], -1, timestamps.ToArray(), values.ToArray(), Replay: true, Offsets: offsets.ToArray()));
        offsets.Clear();
        timestamps.Clear();
        values.Clear();
    }

    protected override void PostStop() => _concurrent.Dispose();

    public static Props Props(KafkaSettings settings, IngestionSettings ingestion, KafkaMetrics metrics) =>
        Akka.Actor.Props.Create(() => new KafkaRedeliveryActor(settings, ingestion, metrics));
}
