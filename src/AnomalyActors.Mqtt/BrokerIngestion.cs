using System.Collections.Concurrent;
using System.Threading.Channels;
using Akka.Actor;
using Akka.Streams;
using Akka.Streams.Dsl;
using AnomalyActors.Core.DeadLetters;
using AnomalyActors.Ingestion;
using AnomalyActors.Ingestion.DeadLetters;
using AnomalyActors.Ingestion.Intake;
using AnomalyActors.Ingestion.Payload;

namespace AnomalyActors.Mqtt;

/// <summary>A publish the embedded broker took from a device, on its way into the intake.</summary>
public sealed class BrokerIngestMessage : IIngestMessage
{
    internal BrokerIngestMessage(string clientId, string topic, byte[] payload, long arrivalMs, string? publisher, SourceDelivery? delivery)
    {
        ClientId = clientId;
        Topic = topic;
        Payload = payload;
        ArrivalMs = arrivalMs;
        Publisher = publisher;
        Delivery = delivery;
        Durable = delivery is null ? null : new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    public string ClientId { get; }
    public string Topic { get; }
    public ReadOnlyMemory<byte> Payload { get; }
    public long ArrivalMs { get; }
    public string? Publisher { get; }
    public SourceDelivery? Delivery { get; }

    /// <summary>
    /// QoS 1/2: true once durable (or dead-lettered), so the PUBACK may go; false when it was not
    /// taken, so the PUBACK must not go and the device sends it again. Null for QoS 0.
    /// </summary>
    internal TaskCompletionSource<bool>? Durable { get; }
}

/// <summary>
/// The embedded broker's own ingestion: publishes under the ingestion topic filter go from the
/// device's connection straight into <see cref="IngestFlow"/>, and the broker sends a QoS 1/2
/// publish's acknowledgement only once its readings are durable (or its dead letter written), so a
/// node that dies takes nothing acknowledged with it. The device's next messages wait in a bounded
/// buffer (then its connection is not read: TCP backpressure). If the stream fails, what it held is
/// not acknowledged (those devices are disconnected and send it again) and it starts anew.
/// </summary>
public sealed class BrokerIngestion : IAsyncDisposable
{
    private readonly ActorSystem _system;
    private readonly IngestionSettings _settings;
    private readonly IReadingIntake _intake;
    private readonly IDeadLetterSink? _deadLetters;
    private readonly TopicFilter _filter;
    private readonly TimeSpan _drainTimeout;
    private readonly Action<string> _log;
    private readonly Channel<BrokerIngestMessage> _channel;
    private readonly RestartingIngestStream _stream;

    // Messages the stream has taken and not yet settled, in order: failed when the stream fails.
    private readonly ConcurrentQueue<BrokerIngestMessage> _taken = new();
    private volatile bool _closed;

    public BrokerIngestion(
        ActorSystem system,
        IngestionSettings settings,
        IReadingIntake intake,
        IDeadLetterSink? deadLetters,
        string topicFilter,
        int buffer,
        TimeSpan drainTimeout,
        Action<string>? log = null)
    {
        _system = system;
        _settings = settings;
        _intake = intake;
        _deadLetters = deadLetters;
        _filter = new TopicFilter(topicFilter);
        _drainTimeout = drainTimeout;
        _log = log ?? (_ => { });
        _stream = new RestartingIngestStream(_log);
        _channel = Channel.CreateBounded<BrokerIngestMessage>(new BoundedChannelOptions(buffer)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = true,
        });
    }

    /// <summary>The source id of the batches (and of their de-duplication in the intake).</summary>
    public string SourceId => "mqtt-broker";

    public IngestionCounters Counters { get; } = new();

    /// <summary>Disconnects a client whose messages were not taken, so that it sends them again.</summary>
    internal Func<string, Task>? DisconnectClient { get; set; }

    internal bool Ingests(string topic) => _filter.Matches(topic.Split('/'));

    /// <summary>Hands a publish to the stream; false when ingestion is stopping (the message is not taken).</summary>
    internal async ValueTask<bool> OfferAsync(BrokerIngestMessage message, CancellationToken cancellation)
    {
        if (_closed)
        {
            return false;
        }

        try
        {
            await _channel.Writer.WriteAsync(message, cancellation).ConfigureAwait(false);
            return true;
        }
        catch (ChannelClosedException)
        {
            return false;
        }
    }

    public void Start()
    {
        var source = ChannelSource.FromReader(_channel.Reader);
        var materializer = _system.Materializer(namePrefix: "mqtt-broker-ingestion");
        _stream.Start(
            () => source
                .ViaMaterialized(KillSwitches.Single<BrokerIngestMessage>(), Keep.Right)
                .Select(message =>
                {
                    _taken.Enqueue(message);
                    return message;
                })
                .Via(IngestFlow.Create<BrokerIngestMessage>(SourceId, _settings, _intake, _deadLetters, Counters, _log, _stream.Stopping))
                .Select(batch =>
                {
                    // Batches come out in the order their messages went in.
                    for (var i = 0; i < batch.Messages.Count; i++)
                    {
                        _taken.TryDequeue(out _);
                        batch.Messages[i].Durable?.TrySetResult(true);
                    }

                    Counters.AddAcknowledged(batch.Messages.Count);
                    return batch.Messages.Count;
                })
                .ToMaterialized(Sink.Ignore<int>(), Keep.Both)
                .Run(materializer),
            async e =>
            {
                var dropped = await FailTakenAsync().ConfigureAwait(false);
                _log($"MQTT ingestion failed ({e.GetType().Name}: {e.Message}); {dropped} messages not acknowledged (their devices send them again); restarting");
            },
            _settings.RetryBackoff);
    }

    /// <summary>Marks every message the stream held as not taken and disconnects their senders.</summary>
    private async Task<int> FailTakenAsync()
    {
        var clients = new HashSet<string>(StringComparer.Ordinal);
        var failed = 0;
        while (_taken.TryDequeue(out var message))
        {
            if (message.Durable?.TrySetResult(false) == true)
            {
                failed++;
                clients.Add(message.ClientId);
            }
        }

        if (DisconnectClient is { } disconnect)
        {
            foreach (var client in clients)
            {
                await disconnect(client).ConfigureAwait(false);
            }
        }

        return failed;
    }

    /// <summary>
    /// Graceful stop: no new publish is taken (devices get no acknowledgement for it and send it again
    /// to the next run), what was taken becomes durable and is acknowledged within the drain timeout.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        _closed = true;
        _channel.Writer.TryComplete();
        await _stream.StopAsync(_drainTimeout, "their devices will send them again").ConfigureAwait(false);
        await FailTakenAsync().ConfigureAwait(false);
        _stream.Dispose();
    }
}
