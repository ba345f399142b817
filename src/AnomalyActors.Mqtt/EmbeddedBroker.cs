using System.Buffers;
using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using AnomalyActors.Core.Protocol;
using AnomalyActors.Ingestion.Intake;
using AnomalyActors.Ingestion.Payload;
using MQTTnet.Packets;
using MQTTnet.Protocol;
using MQTTnet.Server;

namespace AnomalyActors.Mqtt;

/// <summary>
/// The node's own MQTT broker (MQTTnet.Server): users with passwords from the configuration,
/// devices confined to their own topic subtree, optional TLS. Anonymous clients are accepted only
/// when the configuration says so, and are then unrestricted (the topic rule needs an identity).
/// Publishes under the ingestion topic filter go to <see cref="BrokerIngestion"/> instead of to
/// subscribers, and a QoS 1/2 publish is acknowledged only once its readings are durable; each
/// client gets a receive maximum (the most it may have unacknowledged), and a client at its maximum
/// is not read until one of its messages is durable.
/// </summary>
public sealed class EmbeddedBroker : IAsyncDisposable
{
    private const string RoleItem = "anomaly-actors.role";
    private const string FilterItem = "anomaly-actors.device-filter";
    private const string PendingItem = "anomaly-actors.pending";

    /// <summary>The MQTT 5 user property naming the device account that published a message.</summary>
    public const string PublisherProperty = "anomaly-actors-publisher";

    private readonly MqttServer _server;
    private readonly BrokerSettings _settings;
    private readonly Action<string> _log;
    private long _rejectedConnections;
    private long _deniedPublishes;
    private long _deniedSubscriptions;
    private long _refusedClientIds;
    private long _heldPublishes;
    private long _unacknowledged;
    private readonly BrokerIngestion? _ingestion;
    private BoundedListener? _listener;
    private readonly SessionHandover _handover;

    private EmbeddedBroker(MqttServer server, BrokerSettings settings, BrokerIngestion? ingestion, Action<string> log)
    {
        _server = server;
        _handover = new SessionHandover(server, HandoverTimeout);
        _settings = settings;
        _ingestion = ingestion;
        _log = log;
    }

    public BrokerSettings Settings => _settings;
    public long RejectedConnections => Interlocked.Read(ref _rejectedConnections);
    public long DeniedPublishes => Interlocked.Read(ref _deniedPublishes);
    public long DeniedSubscriptions => Interlocked.Read(ref _deniedSubscriptions);

    /// <summary>Connections closed because a packet was larger than <see cref="BrokerSettings.MaxPacketBytes"/>.</summary>
    public long OversizedPackets => _listener?.Oversized ?? 0;

    /// <summary>Connections refused because their client id belongs to another account.</summary>
    public long RefusedClientIds => Interlocked.Read(ref _refusedClientIds);

    /// <summary>Publishes that waited because their client had its receive maximum of messages not yet durable.</summary>
    public long HeldPublishes => Interlocked.Read(ref _heldPublishes);

    /// <summary>QoS 1/2 publishes whose acknowledgement was withheld because ingestion did not take them.</summary>
    public long Unacknowledged => Interlocked.Read(ref _unacknowledged);

    /// <param name="ingestion">Where publishes under its topic filter go; null: the broker only routes (tests, tools).</param>
    public static async Task<EmbeddedBroker> StartAsync(BrokerSettings settings, Action<string>? log = null, BrokerIngestion? ingestion = null)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var (v4, v6) = await ResolveAsync(settings.Host).ConfigureAwait(false);
        var options = new MqttServerOptionsBuilder()
            .WithDefaultEndpoint()
            // Exactly the configured address: MQTTnet would otherwise add an IPv6 listener on [::],
            // reachable from every network the machine is on. IPAddress.None leaves a family out.
            .WithDefaultEndpointBoundIPAddress(v4 ?? IPAddress.None)
            .WithDefaultEndpointBoundIPV6Address(v6 ?? IPAddress.None)
            .WithDefaultEndpointPort(settings.Port)
            // MQTTnet's default (1,000, drop oldest) silently loses messages when a subscriber falls
            // behind; the subscriber's own backpressure is what should slow things down.
            .WithMaxPendingMessagesPerClient(settings.MaxPendingMessagesPerClient)
            .WithPersistentSessions(true);
        if (settings.TlsEnabled)
        {
            var certificate = X509CertificateLoader.LoadPkcs12FromFile(settings.TlsCertificate!, settings.TlsCertificatePassword);
            options = options
                .WithEncryptedEndpoint()
                .WithEncryptedEndpointBoundIPAddress(v4 ?? IPAddress.None)
                .WithEncryptedEndpointBoundIPV6Address(v6 ?? IPAddress.None)
                .WithEncryptedEndpointPort(settings.TlsPort)
                .WithEncryptionCertificate(certificate);
        }

        var logTo = log ?? (_ => { });
        var listener = new BoundedListener(settings.MaxPacketBytes, logTo);
        var server = new MqttServerFactory().CreateMqttServer(options.Build(), [listener]);
        var broker = new EmbeddedBroker(server, settings, ingestion, logTo) { _listener = listener };
        server.ValidatingConnectionAsync += broker.ValidateConnectionAsync;
        server.InterceptingPublishAsync += broker.InterceptPublishAsync;
        server.InterceptingSubscriptionAsync += broker.InterceptSubscriptionAsync;
        if (ingestion is not null)
        {
            server.InterceptingInboundPacketAsync += InterceptInboundPacket;
            server.InterceptingOutboundPacketAsync += broker.InterceptOutboundPacketAsync;
            ingestion.DisconnectClient = clientId => broker.DisconnectQuietlyAsync(clientId);
        }

        await server.StartAsync().ConfigureAwait(false);
        return broker;
    }

    /// <summary>How long a connection waits for the previous connection of its client id to end before it is refused (the client then retries).</summary>
    private static readonly TimeSpan HandoverTimeout = TimeSpan.FromSeconds(10);

    private async Task ValidateConnectionAsync(ValidatingConnectionEventArgs e)
    {
        Admit(e);
        if (e.ReasonCode == MqttConnectReasonCode.Success && !await _handover.EndPreviousAsync(e.ClientId).ConfigureAwait(false))
        {
            Reject(e, MqttConnectReasonCode.ServerBusy, $"the previous connection of client id '{e.ClientId}' did not end within {HandoverTimeout.TotalSeconds:0} s");
        }
    }

    /// <summary>Authenticates the client and checks its client id.</summary>
    private void Admit(ValidatingConnectionEventArgs e)
    {
        MqttUser? user = null;
        if (string.IsNullOrEmpty(e.UserName))
        {
            if (!_settings.AllowAnonymous)
            {
                Reject(e, MqttConnectReasonCode.NotAuthorized, "anonymous clients are not allowed");
                return;
            }
        }
        else
        {
            user = _settings.Users.FirstOrDefault(u => string.Equals(u.Username, e.UserName, StringComparison.Ordinal));
            if (user is null || !PasswordMatches(user.Password, e.Password))
            {
                Reject(e, MqttConnectReasonCode.BadUserNameOrPassword, $"bad username or password for '{e.UserName}'");
                return;
            }
        }

        if (user is { Role: MqttRole.Device } && string.IsNullOrEmpty(e.ClientId))
        {
            // A device that leaves the id to the broker gets one it owns.
            e.AssignedClientIdentifier = $"{user.Username}-{Guid.NewGuid():N}";
        }
        else if (ClientIdRefusal(e.ClientId, user) is { } why)
        {
            // A client id names a session: whoever connects with it takes the session over, with its
            // subscriptions and its unacknowledged messages.
            Interlocked.Increment(ref _refusedClientIds);
            e.ReasonCode = MqttConnectReasonCode.ClientIdentifierNotValid;
            e.ReasonString = why;
            _log($"MQTT broker: refused client id '{e.ClientId}' of '{e.UserName}' from {e.RemoteEndPoint}: {why} ({RefusedClientIds} refused so far)");
            return;
        }

        e.SessionItems[RoleItem] = user?.Role ?? MqttRole.Service;
        e.SessionItems[PendingItem] = new PendingAcknowledgements(ReceiveMaximumOf(user?.Role ?? MqttRole.Service));
        if (user is null)
        {
            return;
        }

        if (user.Role == MqttRole.Device && _settings.DeviceTopicPattern is { } pattern)
        {
            e.SessionItems[FilterItem] = new TopicFilter(pattern.Replace("{username}", user.Username, StringComparison.Ordinal));
        }
    }

    private int ReceiveMaximumOf(MqttRole role) => role == MqttRole.Device ? _settings.DeviceReceiveMaximum : _settings.ServiceReceiveMaximum;

    private Task InterceptPublishAsync(InterceptingPublishEventArgs e)
    {
        // Messages the server injects itself have no session.
        if (e.SessionItems is null)
        {
            return Task.CompletedTask;
        }

        if (!CheckDeviceTopic(e) || _ingestion is null || !_ingestion.Ingests(e.ApplicationMessage.Topic))
        {
            return Task.CompletedTask;
        }

        return IngestAsync(e, _ingestion);
    }

    /// <summary>
    /// Hands the publish to ingestion (its PUBACK then waits for it to be durable) instead of to
    /// subscribers. At its receive maximum a client waits here, which stops reading its connection.
    /// </summary>
    private async Task IngestAsync(InterceptingPublishEventArgs e, BrokerIngestion ingestion)
    {
        e.ProcessPublish = false;
        var message = e.ApplicationMessage;
        var payload = message.Payload.IsEmpty ? [] : message.Payload.ToArray();
        var publisher = e.SessionItems[RoleItem] is MqttRole.Device ? e.UserName : null;
        var pending = (PendingAcknowledgements)e.SessionItems[PendingItem]!;
        SourceDelivery? delivery = null;
        if (message.QualityOfServiceLevel != MqttQualityOfServiceLevel.AtMostOnce)
        {
            delivery = new SourceDelivery(
                new DeliveryKey(SessionOf(e.ClientId), pending.InboundPacketId, DeliveryKey.HashOf(message.Topic, payload)),
                pending.InboundDup,
                pending.Window);
        }

        var ingest = new BrokerIngestMessage(e.ClientId, message.Topic, payload, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), publisher, delivery);
        try
        {
            if (ingest.Durable is { } durable)
            {
                if (!pending.Slots.Wait(0))
                {
                    Interlocked.Increment(ref _heldPublishes);
                    await pending.Slots.WaitAsync(e.CancellationToken).ConfigureAwait(false);
                }

                pending.Add(delivery!.Value.Key.PacketId, durable.Task);
            }

            if (!await ingestion.OfferAsync(ingest, e.CancellationToken).ConfigureAwait(false))
            {
                ingest.Durable?.TrySetResult(false);
            }
        }
        catch (OperationCanceledException)
        {
            // The client went away while waiting: no acknowledgement, it sends the message again.
            ingest.Durable?.TrySetResult(false);
        }
    }

    /// <summary>Names a client's session in message keys.</summary>
    public static string SessionOf(string clientId) => "mqtt-client:" + clientId;

    /// <summary>Notes the packet id and DUP flag of a QoS 1/2 publish for the publish interceptor that runs next on this connection.</summary>
    private static Task InterceptInboundPacket(InterceptingPacketEventArgs e)
    {
        if (e.Packet is MqttPublishPacket { QualityOfServiceLevel: not MqttQualityOfServiceLevel.AtMostOnce } publish
            && PendingOf(e.SessionItems) is { } pending)
        {
            pending.InboundPacketId = publish.PacketIdentifier;
            pending.InboundDup = publish.Dup;
        }

        return Task.CompletedTask;
    }

    /// <summary>
    /// Announces the client's receive maximum in its CONNACK, and holds the acknowledgement of an
    /// ingested publish until it is durable; one that was not taken is never acknowledged, and its
    /// client is disconnected so that it sends it again.
    /// </summary>
    private async Task InterceptOutboundPacketAsync(InterceptingPacketEventArgs e)
    {
        switch (e.Packet)
        {
            case MqttConnAckPacket { ReasonCode: MqttConnectReasonCode.Success } connAck when PendingOf(e.SessionItems) is { } pending:
                connAck.ReceiveMaximum = (ushort)pending.Window;
                break;
            case MqttPubAckPacket ack:
                await HoldAsync(e, ack.PacketIdentifier).ConfigureAwait(false);
                break;
            case MqttPubRecPacket rec:
                await HoldAsync(e, rec.PacketIdentifier).ConfigureAwait(false);
                break;
        }
    }

    private async Task HoldAsync(InterceptingPacketEventArgs e, ushort packetId)
    {
        if (PendingOf(e.SessionItems)?.Take(packetId) is not { } durable)
        {
            return;
        }

        bool taken;
        try
        {
            taken = await durable.WaitAsync(e.CancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            e.ProcessPacket = false;
            return;
        }

        if (!taken)
        {
            e.ProcessPacket = false;
            Interlocked.Increment(ref _unacknowledged);
            _ = DisconnectQuietlyAsync(e.ClientId);
        }
    }

    private static PendingAcknowledgements? PendingOf(System.Collections.IDictionary? items) => items?[PendingItem] as PendingAcknowledgements;

    private async Task DisconnectQuietlyAsync(string clientId)
    {
        try
        {
            // Off the caller's thread: the caller may be this client's own send loop.
            await Task.Yield();
            await _server.DisconnectClientAsync(clientId, MqttDisconnectReasonCode.UnspecifiedError).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // Gone already.
        }
    }

    /// <summary>False (and the publish refused) when a device publishes outside its subtree.</summary>
    private bool CheckDeviceTopic(InterceptingPublishEventArgs e)
    {
        VouchForPublisher(e);
        if (e.SessionItems[FilterItem] is not TopicFilter allowed)
        {
            return true;
        }

        if (!allowed.Matches(e.ApplicationMessage.Topic.Split('/')))
        {
            e.ProcessPublish = false;
            e.Response.ReasonCode = MqttPubAckReasonCode.NotAuthorized;
            e.Response.ReasonString = $"'{e.UserName}' may publish only under {allowed.Filter}";
            if (Interlocked.Increment(ref _deniedPublishes) is 1 or 100 or 10_000)
            {
                _log($"MQTT broker: denied publish of '{e.UserName}' to '{e.ApplicationMessage.Topic}' (allowed: {allowed.Filter}; {DeniedPublishes} denied so far)");
            }

            return false;
        }

        return true;
    }

    /// <summary>
    /// Tells the node which device account published a message, so a payload field cannot make one
    /// device speak for another: the broker sets <see cref="PublisherProperty"/> to the account's name
    /// for devices, and removes whatever a client put there itself.
    /// </summary>
    private static void VouchForPublisher(InterceptingPublishEventArgs e)
    {
        var properties = e.ApplicationMessage.UserProperties;
        properties?.RemoveAll(p => p.Name == PublisherProperty);
        if (e.SessionItems[RoleItem] is MqttRole.Device)
        {
            (e.ApplicationMessage.UserProperties ??= []).Add(new MqttUserProperty(PublisherProperty, Encoding.UTF8.GetBytes(e.UserName).AsMemory()));
        }
    }

    private Task InterceptSubscriptionAsync(InterceptingSubscriptionEventArgs e)
    {
        if (e.SessionItems is null || e.SessionItems[FilterItem] is not TopicFilter allowed)
        {
            return Task.CompletedTask;
        }

        // A device may read its own subtree only: the filter, taken literally, must fit its publish
        // pattern, so "sensors/#" or "+/+/other/#" are refused.
        if (!allowed.Matches(e.TopicFilter.Topic.Split('/')))
        {
            e.ProcessSubscription = false;
            e.Response.ReasonCode = MqttSubscribeReasonCode.NotAuthorized;
            Interlocked.Increment(ref _deniedSubscriptions);
        }

        return Task.CompletedTask;
    }

    /// <summary>
    /// Why <paramref name="user"/> (null: anonymous) may not use <paramref name="clientId"/>, or null
    /// when it may. The node's own subscriber id belongs to its service account alone; a device owns
    /// its name and its name followed by '-' and anything, and may use nothing else; an anonymous
    /// client may use no id a device owns. Service accounts are trusted with any other id.
    /// </summary>
    private string? ClientIdRefusal(string clientId, MqttUser? user)
    {
        if (_settings.ReservedClientIds.TryGetValue(clientId, out var owner))
        {
            return user?.Username == owner ? null : $"client id '{clientId}' is reserved for the account '{owner}'";
        }

        if (user is { Role: MqttRole.Device })
        {
            return OwnsClientId(user.Username, clientId) ? null : $"a device may use only its own name ('{user.Username}' or '{user.Username}-...') as client id";
        }

        if (user is null && _settings.Users.FirstOrDefault(u => u.Role == MqttRole.Device && OwnsClientId(u.Username, clientId)) is { } device)
        {
            return $"client id '{clientId}' belongs to the device '{device.Username}'";
        }

        return null;
    }

    private static bool OwnsClientId(string username, string clientId) =>
        clientId.Length == username.Length
            ? string.Equals(clientId, username, StringComparison.Ordinal)
            : clientId.Length > username.Length && clientId[username.Length] == '-' && clientId.StartsWith(username, StringComparison.Ordinal);

    private void Reject(ValidatingConnectionEventArgs e, MqttConnectReasonCode code, string why)
    {
        e.ReasonCode = code;
        if (Interlocked.Increment(ref _rejectedConnections) is 1 or 100 or 10_000)
        {
            _log($"MQTT broker: refused client '{e.ClientId}' from {e.RemoteEndPoint}: {why} ({RejectedConnections} refused so far)");
        }
    }

    private static bool PasswordMatches(string expected, string? given) =>
        given is not null && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(expected), Encoding.UTF8.GetBytes(given));

    /// <summary>
    /// The addresses to listen on, one per family at most: an IP address is taken as it is, a name
    /// (e.g. localhost) resolves to its first IPv4 and its first IPv6 address.
    /// </summary>
    private static async Task<(IPAddress? V4, IPAddress? V6)> ResolveAsync(string host)
    {
        var addresses = IPAddress.TryParse(host, out var address) ? [address] : await Dns.GetHostAddressesAsync(host).ConfigureAwait(false);
        return (
            addresses.FirstOrDefault(a => a.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork),
            addresses.FirstOrDefault(a => a.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6));
    }

    public async ValueTask DisposeAsync()
    {
        await _server.StopAsync(new MqttServerStopOptionsBuilder().Build()).ConfigureAwait(false);
        _server.Dispose();
    }

    /// <summary>
    /// One session's ingested QoS 1/2 publishes whose acknowledgement waits for durability, by packet
    /// id, and the slots that keep it at its receive maximum. The inbound packet fields are written
    /// and read on the connection's receive loop, one packet at a time.
    /// </summary>
    private sealed class PendingAcknowledgements(int window)
    {
        private readonly ConcurrentDictionary<ushort, Task<bool>> _byPacketId = new();

        public int Window { get; } = window;
        public SemaphoreSlim Slots { get; } = new(window, window);
        public ushort InboundPacketId { get; set; }
        public bool InboundDup { get; set; }

        public void Add(ushort packetId, Task<bool> durable)
        {
            _byPacketId[packetId] = durable;
            // The slot frees once the message is settled, whether or not its acknowledgement goes out.
            durable.ContinueWith(static (_, slots) => ((SemaphoreSlim)slots!).Release(), Slots, TaskScheduler.Default);
        }

        public Task<bool>? Take(ushort packetId) => _byPacketId.TryRemove(packetId, out var durable) ? durable : null;
    }
}
