using Akka.Actor;
using Akka.Streams;
using Akka.Streams.Dsl;
using AnomalyActors.Ingestion;
using AnomalyActors.Core.DeadLetters;
using AnomalyActors.Ingestion.DeadLetters;
using AnomalyActors.Ingestion.Intake;

namespace AnomalyActors.Mqtt;

/// <summary>
/// MQTT into the durable intake: subscriber -> <see cref="IngestFlow"/> -> PUBACK. A message is
/// acknowledged to the broker only after its readings are durable (or its dead letter is written).
/// If the stream fails (say the dead-letter disk is full) it is started again after a pause and the
/// client reconnects, so the broker re-sends whatever was not acknowledged.
/// </summary>
public sealed class MqttIngestion : IAsyncDisposable
{
    private readonly MqttSubscriber _subscriber;
    private readonly IngestionSettings _settings;
    private readonly IReadingIntake _intake;
    private readonly IDeadLetterSink? _deadLetters;
    private readonly ActorSystem _system;
    private readonly Action<string> _log;
    private readonly RestartingIngestStream _stream;
    private readonly TimeSpan _drainTimeout;

    public MqttIngestion(
        ActorSystem system,
        SubscriberSettings subscriber,
        IngestionSettings settings,
        IReadingIntake intake,
        IDeadLetterSink? deadLetters,
        Action<string>? log = null,
        IngestionCounters? counters = null)
    {
        _system = system;
        _settings = settings;
        _intake = intake;
        _deadLetters = deadLetters;
        _log = log ?? (_ => { });
        _subscriber = new MqttSubscriber(subscriber, _log);
        _stream = new RestartingIngestStream(_log);
        _drainTimeout = subscriber.DrainTimeout;
        SourceId = $"mqtt:{subscriber.ClientId}";
        Counters = counters ?? new IngestionCounters();
    }

    public string SourceId { get; }
    public IngestionCounters Counters { get; }
    public MqttSubscriber Subscriber => _subscriber;

    public async Task StartAsync(TimeSpan connectTimeout)
    {
        await _subscriber.StartAsync(connectTimeout).ConfigureAwait(false);
        var source = _subscriber.Source;
        var materializer = _system.Materializer(namePrefix: "mqtt-ingestion");
        _stream.Start(
            () => source
                .ViaMaterialized(KillSwitches.Single<MqttIngestMessage>(), Keep.Right)
                .Via(IngestFlow.Create<MqttIngestMessage>(SourceId, _settings, _intake, _deadLetters, Counters, _log, _stream.Stopping))
                .SelectAsync(1, async batch =>
                {
                    foreach (var message in batch.Messages)
                    {
                        await _subscriber.AcknowledgeAsync(message).ConfigureAwait(false);
                    }

                    Counters.AddAcknowledged(batch.Messages.Count);
                    return batch.Messages.Count;
                })
                .ToMaterialized(Sink.Ignore<int>(), Keep.Both)
                .Run(materializer),
            e =>
            {
                _log($"MQTT ingestion failed ({e.GetType().Name}: {e.Message}); restarting it, the broker re-sends what was not acknowledged");
                return _subscriber.ReconnectAsync();
            },
            _settings.RetryBackoff);
    }

    /// <summary>
    /// Graceful stop: no new messages, the batches already taken finish (durable, acknowledged)
    /// within the subscriber's drain timeout, then the client disconnects. Whatever is left is
    /// unacknowledged and the broker delivers it again to the next session.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        _subscriber.StopReceiving();
        await _stream.StopAsync(_drainTimeout, "the broker will deliver them again").ConfigureAwait(false);
        await _subscriber.DisposeAsync().ConfigureAwait(false);
        _stream.Dispose();
    }
}
