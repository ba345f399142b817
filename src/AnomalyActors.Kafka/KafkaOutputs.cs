using System.Globalization;
using System.Text;
using AnomalyActors.Core.DeadLetters;
using AnomalyActors.Core.Results;
using AnomalyActors.Streams.Kafka;
using Confluent.Kafka;

namespace AnomalyActors.Kafka;

/// <summary>
/// The node's one idempotent producer, shared by the result topics, the dead-letter sink and the
/// MQTT-to-Kafka bridge (one producer per process is what librdkafka recommends: it batches across
/// topics).
/// </summary>
public sealed class KafkaOutputs : IDisposable
{
    /// <param name="site">This site's name, which every record produced here carries.</param>
    public KafkaOutputs(KafkaSettings settings, string clientId, string site)
    {
        Settings = settings;
        Site = site;
        OriginHeader = Header(ResultRecords.OriginAttribute, site);
        var producerSettings = ProducerSettings<string?, byte[]>.Create(Serializers.Utf8!, Serializers.ByteArray)
            .WithBootstrapServers(settings.BootstrapServers)
            .WithProperty("client.id", clientId)
            .WithProperty("acks", "all")
            .WithProperty("linger.ms", "2")
            .WithProperty("queue.buffering.max.messages", "1000000");
        foreach (var (key, value) in settings.ProducerProperties)
        {
            producerSettings = producerSettings.WithProperty(key, value);
        }

        Producer = producerSettings.CreateProducer();
    }

    public KafkaSettings Settings { get; }

    /// <summary>The site whose records these are.</summary>
    public string Site { get; }

    /// <summary>The header naming this site (one instance: a produced message's headers are only read).</summary>
    public Header OriginHeader { get; }

    /// <summary>The header naming this site, for a record that carries no other headers.</summary>
    public Headers OriginOnly() => [OriginHeader];

    public IProducer<string?, byte[]> Producer { get; }

    /// <summary>
    /// Produces without blocking; a full local queue is waited out briefly (it drains at broker speed)
    /// rather than dropping the message.
    /// </summary>
    public void Produce(string topic, Message<string?, byte[]> message, Action<DeliveryReport<string?, byte[]>> delivered)
    {
        while (true)
        {
            try
            {
                Producer.Produce(topic, message, delivered);
                return;
            }
            catch (ProduceException<string?, byte[]> e) when (e.Error.Code == ErrorCode.Local_QueueFull)
            {
                Producer.Poll(TimeSpan.FromMilliseconds(10));
            }
        }
    }

    public static Header Header(string key, string value) => new(key, Encoding.UTF8.GetBytes(value));

    public static Header Header(string key, long value) => Header(key, value.ToString(CultureInfo.InvariantCulture));

    public static Headers Headers(IEnumerable<KeyValuePair<string, string>> attributes)
    {
        var headers = new Headers();
        foreach (var (key, value) in attributes)
        {
            headers.Add(Header(key, value));
        }

        return headers;
    }

    public void Dispose()
    {
        Producer.Flush(TimeSpan.FromSeconds(10));
        Producer.Dispose();
    }
}

/// <summary>Dead letters to the site's dead-letters topic: raw payload as the value, the rest in headers.</summary>
public sealed class KafkaDeadLetterSink(KafkaOutputs outputs, KafkaMetrics metrics) : IDeadLetterSink
{
    public void Write(DeadLetter deadLetter) => _ = WriteAsync(deadLetter);

    /// <summary>Completes once the broker has the dead letter; retried until it does.</summary>
    public Task WriteAsync(DeadLetter deadLetter)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var message = new Message<string?, byte[]>
        {
            Key = deadLetter.Topic,
            Value = deadLetter.Payload.ToArray(),
            Headers =
            [
                outputs.OriginHeader,
                KafkaOutputs.Header("source", deadLetter.Source),
                KafkaOutputs.Header("topic", deadLetter.Topic),
                KafkaOutputs.Header("reason", deadLetter.Reason.ToString()),
                KafkaOutputs.Header("detail", deadLetter.Detail),
                KafkaOutputs.Header("arrival-ms", deadLetter.ArrivalMs),
            ],
        };
        void Attempt() => outputs.Produce(outputs.Settings.DeadLettersTopic, message, report =>
        {
            if (report.Error.IsError)
            {
                // Only permanent errors reach here (the idempotent producer retries the rest).
                Task.Delay(200).ContinueWith(_ => Attempt(), TaskScheduler.Default);
                return;
            }

            metrics.DeadLetterWritten();
            done.TrySetResult();
        });
        Attempt();
        return done.Task;
    }
}
