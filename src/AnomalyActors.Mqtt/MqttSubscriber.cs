using System.Buffers;
using System.Threading.Channels;
using Akka;
using Akka.Streams.Dsl;
using AnomalyActors.Core.Protocol;
using AnomalyActors.Ingestion.Intake;
using MQTTnet;
using MQTTnet.Protocol;

namespace AnomalyActors.Mqtt;

/// <summary>A received publish, held unacknowledged until <see cref="MqttSubscriber.AcknowledgeAsync"/>.</summary>
public sealed class MqttIngestMessage : IIngestMessage
{
    internal MqttIngestMessage(string topic, byte[] payload, long arrivalMs, string? publisher, MqttApplicationMessageReceivedEventArgs? pending, long connection, SourceDelivery? delivery)
    {
        Topic = topic;
        Payload = payload;
        ArrivalMs = arrivalMs;
        Publisher = publisher;
        Pending = pending;
        Connection = connection;
        Delivery = delivery;
    }

    public string Topic { get; }
    public ReadOnlyMemory<byte> Payload { get; }
    public long ArrivalMs { get; }
    public string? Publisher { get; }

    /// <summary>
    /// The subscriber's session, the broker's packet id and the content: the broker sends an
    /// unacknowledged message again under the same packet id with DUP set (after a crash of this node
    /// too, as the session persists), so the intake recognises one it stored before.
    /// </summary>
    public SourceDelivery? Delivery { get; }

    /// <summary>The broker's delivery awaiting our PUBACK; null for QoS 0.</summary>
    internal MqttApplicationMessageReceivedEventArgs? Pending { get; }

    /// <summary>Which connection delivered it: a packet id means nothing on a later connection.</summary>
    internal long Connection { get; }
}

/// <summary>
/// One MQTT client subscribed to the configured filter with a persistent session. Each publish goes
/// into a bounded channel; while the channel is full the client's receive loop waits, so the broker
/// holds the rest (backpressure, nothing buffered without bound). QoS 1/2 deliveries are
/// acknowledged only when the caller says so, i.e. once they are durable; until then a crash or a
/// lost connection makes the broker deliver them again (at least once). The client reconnects by
/// itself after the broker or the network went away.
/// </summary>
public sealed class MqttSubscriber : IAsyncDisposable
{
    private readonly SubscriberSettings _settings;
    private readonly Action<string> _log;
    private readonly IMqttClient _client;
    private readonly Channel<MqttIngestMessage> _channel;
    private readonly CancellationTokenSource _stopping = new();
    private Task? _supervisor;
    private long _received;
    private long _acknowledged;
    private long _reconnects;
    private long _connection;
    private volatile bool _draining;
    private readonly string _session;

    public MqttSubscriber(SubscriberSettings settings, Action<string>? log = null)
    {
        ArgumentNullException.ThrowIfNull(settings);
        _settings = settings;
        _log = log ?? (_ => { });
        _session = SessionOf(settings);
        _client = new MqttClientFactory().CreateMqttClient();
        _channel = Channel.CreateBounded<MqttIngestMessage>(new BoundedChannelOptions(settings.Buffer)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = true,
            SingleWriter = true,
        });
        _client.ApplicationMessageReceivedAsync += OnReceivedAsync;
    }

    /// <summary>
    /// Names the broker session in message keys. The client id alone: an address written another
    /// way must not make a redelivery look new; a key of another broker's session could match a
    /// message only with the same packet id, the DUP flag and the same content.
    /// </summary>
    public static string SessionOf(SubscriberSettings settings) => $"mqtt:{settings.ClientId}";

    public SubscriberSettings Settings => _settings;

    public long Received => Interlocked.Read(ref _received);
    public long Acknowledged => Interlocked.Read(ref _acknowledged);
    public long Reconnects => Interlocked.Read(ref _reconnects);
    public bool IsConnected => _client.IsConnected;

    /// <summary>The received messages, in arrival order. Materialise once.</summary>
    public Source<MqttIngestMessage, NotUsed> Source => ChannelSource.FromReader(_channel.Reader);

    /// <summary>Connects (retrying until <paramref name="timeout"/>) and keeps the connection up afterwards.</summary>
    public async Task StartAsync(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            try
            {
                await ConnectAsync().ConfigureAwait(false);
                break;
            }
            catch (Exception e) when (e is not OperationCanceledException && DateTime.UtcNow < deadline)
            {
                _log($"MQTT subscriber: cannot connect to {_settings.Host}:{_settings.Port} yet ({e.Message}); retrying");
                await Task.Delay(_settings.ReconnectBackoff, _stopping.Token).ConfigureAwait(false);
            }
        }

        _supervisor = SuperviseAsync(_stopping.Token);
    }

    /// <summary>Sends the PUBACK of a durable message (nothing for QoS 0).</summary>
    public async ValueTask AcknowledgeAsync(MqttIngestMessage message)
    {
        if (message.Pending is { } pending)
        {
            if (message.Connection != Interlocked.Read(ref _connection))
            {
                // The broker re-sends it on the new connection (under another packet id, which may
                // now belong to a different message): acknowledging here could confirm that one.
                return;
            }

            try
            {
                await pending.AcknowledgeAsync(_stopping.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // The connection it came on is gone; the broker will deliver it again and the
                // duplicate is ingested again (at least once).
                return;
            }
            catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
            {
                // Stopping: left unacknowledged, so the broker delivers it again to the next session.
                return;
            }
        }

        Interlocked.Increment(ref _acknowledged);
    }

    /// <summary>
    /// Graceful stop, first step: no further message enters the stage (new deliveries are held
    /// unacknowledged for the broker to send again after the restart), and the source completes
    /// once the stage has taken what is already buffered, so those batches can still become
    /// durable and be acknowledged on this connection instead of being ingested twice.
    /// </summary>
    public void StopReceiving()
    {
        _draining = true;
        _channel.Writer.TryComplete();
    }

    /// <summary>Drops the connection and connects again, so the broker re-sends what is unacknowledged.</summary>
    public async Task ReconnectAsync()
    {
        if (_client.IsConnected)
        {
            await _client.DisconnectAsync(new MqttClientDisconnectOptionsBuilder().WithReason(MqttClientDisconnectOptionsReason.NormalDisconnection).Build()).ConfigureAwait(false);
        }
    }

    private async Task ConnectAsync()
    {
        var options = new MqttClientOptionsBuilder()
            .WithTcpServer(_settings.Host, _settings.Port)
            .WithClientId(_settings.ClientId)
            .WithProtocolVersion(MQTTnet.Formatter.MqttProtocolVersion.V500)
            .WithCleanStart(!_settings.PersistentSession)
            .WithSessionExpiryInterval(_settings.PersistentSession ? (uint)Math.Min(_settings.SessionExpiry.TotalSeconds, uint.MaxValue) : 0)
            // Durability is acknowledged per batch, so far more than the default few deliveries
            // must be in flight for batches to fill.
            .WithReceiveMaximum(_settings.ReceiveMaximum)
            .WithKeepAlivePeriod(TimeSpan.FromSeconds(30))
            .WithTimeout(TimeSpan.FromSeconds(10))
            .WithAccount(_settings.Username, _settings.Password)
            .WithTls(_settings.Tls, _settings.AllowUntrustedCertificates);

        // Bumped before connecting: deliveries of the new connection may arrive before ConnectAsync returns.
        Interlocked.Increment(ref _connection);
        var result = await _client.ConnectAsync(options.Build().WithSocketBuffers(_settings.SocketBufferBytes), _stopping.Token).ConfigureAwait(false);
        if (result.ResultCode != MqttClientConnectResultCode.Success)
        {
            throw new InvalidOperationException($"broker refused the connection: {result.ResultCode} {result.ReasonString}");
        }

        var subscribe = new MqttClientSubscribeOptionsBuilder()
            .WithTopicFilter(f => f.WithTopic(_settings.TopicFilter).WithQualityOfServiceLevel(_settings.Qos))
            .Build();
        var granted = await _client.SubscribeAsync(subscribe, _stopping.Token).ConfigureAwait(false);
        var code = granted.Items.First().ResultCode;
        if ((int)code > 2)
        {
            throw new InvalidOperationException($"broker refused the subscription to '{_settings.TopicFilter}': {code}");
        }
    }

    private async Task SuperviseAsync(CancellationToken stopping)
    {
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(_settings.ReconnectBackoff, stopping).ConfigureAwait(false);
                if (!_client.IsConnected)
                {
                    await ConnectAsync().ConfigureAwait(false);
                    Interlocked.Increment(ref _reconnects);
                    _log($"MQTT subscriber: reconnected to {_settings.Host}:{_settings.Port}");
                }
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                _log($"MQTT subscriber: reconnect to {_settings.Host}:{_settings.Port} failed ({e.Message}); retrying");
            }
        }
    }

    private async Task OnReceivedAsync(MqttApplicationMessageReceivedEventArgs e)
    {
        var message = e.ApplicationMessage;
        var pending = message.QualityOfServiceLevel == MqttQualityOfServiceLevel.AtMostOnce ? null : e;
        if (pending is not null)
        {
            e.AutoAcknowledge = false;
        }

        try
        {
            if (!_draining)
            {
                // The payload's buffer belongs to the client and is reused after this handler returns.
                var payload = message.Payload.IsEmpty ? [] : message.Payload.ToArray();
                SourceDelivery? delivery = pending is null
                    ? null
                    : new SourceDelivery(new DeliveryKey(_session, e.PacketIdentifier, DeliveryKey.HashOf(message.Topic, payload)), message.Dup, _settings.ReceiveMaximum);
                await _channel.Writer.WriteAsync(
                    new MqttIngestMessage(message.Topic, payload, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), PublisherOf(message), pending, Interlocked.Read(ref _connection), delivery),
                    _stopping.Token).ConfigureAwait(false);
                Interlocked.Increment(ref _received);
                return;
            }
        }
        catch (ChannelClosedException)
        {
        }
        catch (OperationCanceledException)
        {
            return;
        }

        // Draining: dropped here unacknowledged, so the broker sends it again to the next session;
        // every later delivery is dropped too, so the order stays intact.
    }

    private static string? PublisherOf(MqttApplicationMessage message)
    {
        if (message.UserProperties is not { Count: > 0 } properties)
        {
            return null;
        }

        foreach (var property in properties)
        {
            if (property.Name == EmbeddedBroker.PublisherProperty)
            {
                return System.Text.Encoding.UTF8.GetString(property.ValueBuffer.Span);
            }
        }

        return null;
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        if (_supervisor is not null)
        {
            await _supervisor.ConfigureAwait(false);
        }

        _channel.Writer.TryComplete();
        try
        {
            if (_client.IsConnected)
            {
                // A round trip after the last PUBACK: the broker answers a ping only after it has
                // read what was sent before it, so no acknowledgement is cut off by the disconnect
                // (without it, the last batch sometimes came back as duplicates after a restart).
                await _client.PingAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
                await _client.DisconnectAsync().ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            _log($"MQTT subscriber: disconnect failed ({e.Message})");
        }

        _client.Dispose();
        _stopping.Dispose();
    }
}
