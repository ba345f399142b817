using System.Buffers;
using System.Net.Security;
using System.Net.Sockets;
using System.Text;
using MQTTnet.Adapter;
using MQTTnet.Diagnostics.Logger;
using MQTTnet.Formatter;
using MQTTnet.Implementations;
using MQTTnet.Packets;
using MQTTnet.Protocol;

namespace AnomalyActors.Mqtt.Simulation;

/// <summary>Where and as whom a <see cref="PublisherConnection"/> connects.</summary>
public sealed record PublisherEndpoint(string Host, int Port, string ClientId, string? Username, string? Password, bool Tls = false, bool AllowUntrustedCertificates = false);

/// <summary>
/// A publishing MQTT 5 client that behaves as MQTT asks of a device: up to a window of QoS 1
/// publishes in flight (the smaller of its own and the broker's receive maximum), each under a packet
/// id of its own until acknowledged; when the connection is lost it connects again with a growing
/// pause and resends every unacknowledged publish with its original packet id and the DUP flag, in
/// the original order. It resends even when the broker has lost the session (as paho and most device
/// libraries do), since a device keeps what it could not deliver. MQTTnet's own client cannot resend
/// under the original packet id, which is what lets a receiver recognise a resend.
/// </summary>
public sealed class PublisherConnection : IAsyncDisposable
{
    private static readonly TimeSpan FirstBackoff = TimeSpan.FromMilliseconds(200);
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan KeepAlive = TimeSpan.FromSeconds(30);

    private readonly PublisherEndpoint _endpoint;
    private readonly int _maxInFlight;
    private readonly Action<string> _log;
    private readonly SemaphoreSlim _sending = new(1, 1);
    private readonly SemaphoreSlim _connecting = new(1, 1);
    private readonly object _gate = new();

    // Unacknowledged QoS 1 publishes by packet id, and their packet ids in the order they were first sent.
    private readonly Dictionary<ushort, Outstanding> _outstanding = [];
    private readonly LinkedList<ushort> _order = [];
    private readonly List<Task> _acknowledgements = [];
    private readonly CancellationTokenSource _closing = new();
    private SemaphoreSlim? _window;
    private MqttChannelAdapter? _adapter;
    private Task? _receiving;
    private Task? _pinging;
    private int _pruneAt = 64;
    private long _generation;
    private ushort _lastPacketId;
    private bool _connectedOnce;
    private long _published;
    private long _failed;
    private long _resent;
    private long _reconnects;
    private int _loggedFailures;

    public PublisherConnection(PublisherEndpoint endpoint, int maxInFlight, Action<string>? log = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxInFlight, 1);
        _endpoint = endpoint;
        _maxInFlight = maxInFlight;
        _log = log ?? (_ => { });
    }

    /// <summary>Publishes the broker acknowledged (QoS 1) or took (QoS 0).</summary>
    public long Published => Interlocked.Read(ref _published);

    /// <summary>Publishes the broker refused, and QoS 0 ones lost with a connection.</summary>
    public long Failed => Interlocked.Read(ref _failed);

    /// <summary>QoS 1 publishes sent again (DUP) after their connection was lost unacknowledged.</summary>
    public long Resent => Interlocked.Read(ref _resent);

    public long Reconnects => Interlocked.Read(ref _reconnects);

    /// <summary>The broker's receive maximum on the last connection (65535 when it announced none).</summary>
    public int BrokerReceiveMaximum { get; private set; } = ushort.MaxValue;

    /// <summary>The first connection; failures are thrown (a wrong password should not be retried for ever).</summary>
    public async Task ConnectAsync(CancellationToken cancellation)
    {
        await _connecting.WaitAsync(cancellation).ConfigureAwait(false);
        try
        {
            await ConnectOnceAsync(cancellation).ConfigureAwait(false);
        }
        finally
        {
            _connecting.Release();
        }
    }

    /// <summary>
    /// Takes a slot of the window and sends the publish; returns once it is sent (or queued for the
    /// next connection). A QoS 1 publish keeps its slot until the broker acknowledges it, through any
    /// number of reconnections; <see cref="DisposeAsync"/> waits for those acknowledgements.
    /// </summary>
    public async Task PublishAsync(string topic, byte[] payload, MqttQualityOfServiceLevel qos, CancellationToken cancellation)
    {
        if (qos == MqttQualityOfServiceLevel.AtMostOnce)
        {
            var packet = new MqttPublishPacket { Topic = topic, Payload = new ReadOnlySequence<byte>(payload), QualityOfServiceLevel = qos };
            if (await TrySendAsync(packet, null, cancellation).ConfigureAwait(false))
            {
                Interlocked.Increment(ref _published);
            }
            else
            {
                // At most once: lost with its connection, as the device asked.
                Interlocked.Increment(ref _failed);
                await ReconnectAsync(cancellation).ConfigureAwait(false);
            }

            return;
        }

        var window = _window ?? throw new InvalidOperationException("Not connected.");
        await window.WaitAsync(cancellation).ConfigureAwait(false);
        Outstanding outstanding;
        lock (_gate)
        {
            var packetId = NextFreePacketId();
            outstanding = new Outstanding(new MqttPublishPacket
            {
                Topic = topic,
                Payload = new ReadOnlySequence<byte>(payload),
                QualityOfServiceLevel = qos,
                PacketIdentifier = packetId,
            });
            _outstanding[packetId] = outstanding;
            _order.AddLast(packetId);
            _acknowledgements.Add(AwaitAcknowledgementAsync(outstanding, window));
            if (_acknowledgements.Count >= _pruneAt)
            {
                // Amortised: the list at most doubles what is still outstanding between prunings.
                _acknowledgements.RemoveAll(t => t.IsCompleted);
                _pruneAt = 2 * _acknowledgements.Count + 64;
            }
        }

        if (!await TrySendAsync(outstanding.Packet, outstanding, cancellation).ConfigureAwait(false))
        {
            // Sent with the rest of the unacknowledged ones once connected again.
            await ReconnectAsync(cancellation).ConfigureAwait(false);
        }
    }

    private async Task AwaitAcknowledgementAsync(Outstanding outstanding, SemaphoreSlim window)
    {
        try
        {
            var code = await outstanding.Acknowledged.Task.ConfigureAwait(false);
            if (code >= MqttPubAckReasonCode.UnspecifiedError)
            {
                Interlocked.Increment(ref _failed);
                if (Interlocked.Increment(ref _loggedFailures) is 1 or 1000)
                {
                    _log($"Simulator: broker refused a publish to '{outstanding.Packet.Topic}': {code}");
                }
            }
            else
            {
                Interlocked.Increment(ref _published);
            }
        }
        catch (OperationCanceledException)
        {
            // Closed before the broker answered: neither published nor refused.
        }
        finally
        {
            window.Release();
        }
    }

    private ushort NextFreePacketId()
    {
        // The window is at most 65,535, so a free id always exists.
        do
        {
            _lastPacketId = _lastPacketId == ushort.MaxValue ? (ushort)1 : (ushort)(_lastPacketId + 1);
        }
        while (_outstanding.ContainsKey(_lastPacketId));

        return _lastPacketId;
    }

    /// <summary>
    /// Sends on the current connection; false when there is none or it failed (the connection is then
    /// dropped). A QoS 1 publish goes at most once per connection: the resend after a reconnection may
    /// have sent it already.
    /// </summary>
    private async Task<bool> TrySendAsync(MqttPacket packet, Outstanding? outstanding, CancellationToken cancellation)
    {
        await _sending.WaitAsync(cancellation).ConfigureAwait(false);
        try
        {
            if (_adapter is not { } adapter)
            {
                return false;
            }

            if (outstanding is not null)
            {
                if (outstanding.SentOn == _generation)
                {
                    return true;
                }

                outstanding.SentOn = _generation;
            }

            try
            {
                await adapter.SendPacketAsync(packet, cancellation).ConfigureAwait(false);
                return true;
            }
            catch (Exception e) when (e is not OperationCanceledException || !cancellation.IsCancellationRequested)
            {
                Drop(adapter);
                return false;
            }
        }
        finally
        {
            _sending.Release();
        }
    }

    /// <summary>Ends the current connection (call holding the send lock); its receive loop then reconnects.</summary>
    private void Drop(MqttChannelAdapter adapter)
    {
        if (ReferenceEquals(_adapter, adapter))
        {
            _adapter = null;
        }

        adapter.Dispose();
    }

    private async Task ConnectOnceAsync(CancellationToken cancellation)
    {
        var client = new TcpClient { NoDelay = true };
        MqttChannelAdapter? adapter = null;
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
            timeout.CancelAfter(TimeSpan.FromSeconds(10));
            await client.ConnectAsync(_endpoint.Host, _endpoint.Port, timeout.Token).ConfigureAwait(false);
            Stream stream = client.GetStream();
            if (_endpoint.Tls)
            {
                var tls = new SslStream(stream, leaveInnerStreamOpen: false);
                await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
                {
                    TargetHost = _endpoint.Host,
                    RemoteCertificateValidationCallback = _endpoint.AllowUntrustedCertificates ? (_, _, _, _) => true : null,
                }, timeout.Token).ConfigureAwait(false);
                stream = tls;
            }

            adapter = new MqttChannelAdapter(
                new MqttTcpChannel(stream, client.Client.LocalEndPoint, client.Client.RemoteEndPoint, null),
                new MqttPacketFormatterAdapter(MQTTnet.Formatter.MqttProtocolVersion.V500, new MqttBufferWriter(4096, 1024 * 1024)),
                new MqttNetNullLogger());
            await adapter.SendPacketAsync(new MqttConnectPacket
            {
                ClientId = _endpoint.ClientId,
                Username = _endpoint.Username,
                Password = _endpoint.Password is null ? null : Encoding.UTF8.GetBytes(_endpoint.Password),
                // A fresh session at first; later connections resume it.
                CleanSession = !_connectedOnce,
                SessionExpiryInterval = 300,
                KeepAlivePeriod = (ushort)KeepAlive.TotalSeconds,
                ReceiveMaximum = ushort.MaxValue,
            }, timeout.Token).ConfigureAwait(false);
            if (await adapter.ReceivePacketAsync(timeout.Token).ConfigureAwait(false) is not MqttConnAckPacket connAck)
            {
                throw new IOException($"Broker {Describe()} did not answer the connection.");
            }

            if (connAck.ReasonCode != MqttConnectReasonCode.Success)
            {
                throw new InvalidOperationException($"Broker {Describe()} refused the connection: {connAck.ReasonCode} {connAck.ReasonString}");
            }

            BrokerReceiveMaximum = connAck.ReceiveMaximum == 0 ? ushort.MaxValue : connAck.ReceiveMaximum;
            _window ??= new SemaphoreSlim(Math.Min(_maxInFlight, BrokerReceiveMaximum));
        }
        catch
        {
            adapter?.Dispose();
            client.Dispose();
            throw;
        }

        int resent;
        long generation;
        await _sending.WaitAsync(cancellation).ConfigureAwait(false);
        try
        {
            generation = ++_generation;
            _adapter = adapter;
            List<Outstanding> resend;
            lock (_gate)
            {
                resend = _order.Select(id => _outstanding[id]).ToList();
            }

            // Before anything new: what the broker may not have, under the same packet ids.
            foreach (var outstanding in resend)
            {
                outstanding.Packet.Dup = true;
                outstanding.SentOn = generation;
                await adapter.SendPacketAsync(outstanding.Packet, cancellation).ConfigureAwait(false);
            }

            resent = resend.Count;
        }
        catch
        {
            Drop(adapter);
            client.Dispose();
            throw;
        }
        finally
        {
            _sending.Release();
        }

        if (_connectedOnce)
        {
            Interlocked.Add(ref _resent, resent);
        }

        _connectedOnce = true;
        _receiving = ReceiveAsync(adapter, client, generation);
        _pinging ??= PingAsync(_closing.Token);
    }

    private async Task ReceiveAsync(MqttChannelAdapter adapter, TcpClient client, long generation)
    {
        try
        {
            while (true)
            {
                var packet = await adapter.ReceivePacketAsync(_closing.Token).ConfigureAwait(false);
                switch (packet)
                {
                    case null:
                    case MqttDisconnectPacket:
                        return;
                    case MqttPubAckPacket ack:
                        Settle(ack.PacketIdentifier, ack.ReasonCode);
                        break;
                }
            }
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // The connection is gone; publishes find out on their next send, or the pinger does.
        }
        finally
        {
            await _sending.WaitAsync().ConfigureAwait(false);
            try
            {
                Drop(adapter);
            }
            finally
            {
                _sending.Release();
            }

            client.Dispose();
            if (!_closing.IsCancellationRequested && Interlocked.Read(ref _generation) == generation)
            {
                // Lost: connect again now, so that what is unacknowledged goes out again.
                _ = ReconnectQuietlyAsync();
            }
        }
    }

    private async Task ReconnectQuietlyAsync()
    {
        try
        {
            await ReconnectAsync(_closing.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
    }

    private void Settle(ushort packetId, MqttPubAckReasonCode code)
    {
        Outstanding? done;
        lock (_gate)
        {
            if (!_outstanding.Remove(packetId, out done))
            {
                return;
            }

            _order.Remove(packetId);
        }

        done.Acknowledged.TrySetResult(code);
    }

    /// <summary>Keeps the connection alive (a broker drops a client silent for 1.5 keep-alive periods).</summary>
    private async Task PingAsync(CancellationToken closing)
    {
        while (!closing.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(KeepAlive / 2, closing).ConfigureAwait(false);
                await TrySendAsync(MqttPingReqPacket.Instance, null, closing).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (closing.IsCancellationRequested)
            {
                return;
            }
        }
    }

    private bool IsConnected => _adapter is not null && _receiving is { IsCompleted: false };

    /// <summary>Connects again unless another caller already did, pausing longer after each failed try.</summary>
    private async Task ReconnectAsync(CancellationToken cancellation)
    {
        await _connecting.WaitAsync(cancellation).ConfigureAwait(false);
        try
        {
            var backoff = FirstBackoff;
            while (!IsConnected)
            {
                cancellation.ThrowIfCancellationRequested();
                try
                {
                    await ConnectOnceAsync(cancellation).ConfigureAwait(false);
                    if (Interlocked.Increment(ref _reconnects) is 1 or 10 or 100 or 1000)
                    {
                        _log($"Simulator: reconnected to the broker ({Reconnects} reconnections so far); sending again what was not acknowledged");
                    }
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    _log($"Simulator: broker {Describe()} unreachable ({e.Message}); trying again in {backoff.TotalSeconds:0.0} s");
                    await Task.Delay(backoff, cancellation).ConfigureAwait(false);
                    backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, MaxBackoff.Ticks));
                }
            }
        }
        finally
        {
            _connecting.Release();
        }
    }

    private string Describe() => $"{_endpoint.Host}:{_endpoint.Port} ('{_endpoint.Username ?? "anonymous"}')";

    /// <summary>
    /// Waits until every QoS 1 publish is acknowledged (or <paramref name="cancellation"/> fires),
    /// then disconnects.
    /// </summary>
    public async Task CloseAsync(CancellationToken cancellation)
    {
        Task[] acknowledgements;
        lock (_gate)
        {
            acknowledgements = [.. _acknowledgements];
        }

        try
        {
            await Task.WhenAll(acknowledgements).WaitAsync(cancellation).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        await DisposeAsync().ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        if (_closing.IsCancellationRequested)
        {
            return;
        }

        await _closing.CancelAsync().ConfigureAwait(false);
        lock (_gate)
        {
            foreach (var outstanding in _outstanding.Values)
            {
                outstanding.Acknowledged.TrySetCanceled();
            }
        }

        await _sending.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_adapter is { } adapter)
            {
                try
                {
                    await adapter.SendPacketAsync(new MqttDisconnectPacket { ReasonCode = MqttDisconnectReasonCode.NormalDisconnection }, CancellationToken.None)
                        .WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
                }
                catch (Exception e) when (e is not OutOfMemoryException)
                {
                    // Gone already.
                }

                Drop(adapter);
            }
        }
        finally
        {
            _sending.Release();
        }

        foreach (var task in new[] { _receiving, _pinging })
        {
            if (task is not null)
            {
                try
                {
                    await task.WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
                }
                catch (Exception e) when (e is not OutOfMemoryException)
                {
                }
            }
        }
    }

    private sealed class Outstanding(MqttPublishPacket packet)
    {
        public MqttPublishPacket Packet { get; } = packet;

        /// <summary>The connection it was last sent on (0: none yet).</summary>
        public long SentOn { get; set; }

        public TaskCompletionSource<MqttPubAckReasonCode> Acknowledged { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
