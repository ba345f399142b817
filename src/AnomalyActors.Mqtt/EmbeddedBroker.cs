using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using AnomalyActors.Ingestion.Payload;
using MQTTnet.Packets;
using MQTTnet.Protocol;
using MQTTnet.Server;

namespace AnomalyActors.Mqtt;

/// <summary>
/// The node's own MQTT broker (MQTTnet.Server): users with passwords from the configuration,
/// devices confined to their own topic subtree, optional TLS. Anonymous clients are accepted only
/// when the configuration says so, and are then unrestricted (the topic rule needs an identity).
/// </summary>
public sealed class EmbeddedBroker : IAsyncDisposable
{
    private const string RoleItem = "anomaly-actors.role";
    private const string FilterItem = "anomaly-actors.device-filter";

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
    private readonly SubscriberBacklogGate? _backlog;
    private BoundedListener? _listener;

    private EmbeddedBroker(MqttServer server, BrokerSettings settings, Action<string> log)
    {
        _server = server;
        _settings = settings;
        _log = log;
        _backlog = settings.SubscriberBacklogLimit > 0 ? new SubscriberBacklogGate(settings.SubscriberBacklogLimit) : null;
    }

    public BrokerSettings Settings => _settings;
    public long RejectedConnections => Interlocked.Read(ref _rejectedConnections);
    public long DeniedPublishes => Interlocked.Read(ref _deniedPublishes);
    public long DeniedSubscriptions => Interlocked.Read(ref _deniedSubscriptions);

    /// <summary>Connections closed because a packet was larger than <see cref="BrokerSettings.MaxPacketBytes"/>.</summary>
    public long OversizedPackets => _listener?.Oversized ?? 0;

    /// <summary>Connections refused because their client id belongs to another account.</summary>
    public long RefusedClientIds => Interlocked.Read(ref _refusedClientIds);

    /// <summary>Publishes held back because a subscriber had more than the backlog limit outstanding.</summary>
    public long HeldPublishes => Interlocked.Read(ref _heldPublishes);

    /// <summary>QoS 1 messages the most loaded service subscriber has outstanding (0 without the backlog gate).</summary>
    public long SubscriberBacklog => _backlog?.LargestOutstanding ?? 0;

    public static async Task<EmbeddedBroker> StartAsync(BrokerSettings settings, Action<string>? log = null)
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
        var broker = new EmbeddedBroker(server, settings, logTo) { _listener = listener };
        server.ValidatingConnectionAsync += broker.ValidateConnectionAsync;
        server.InterceptingPublishAsync += broker.InterceptPublishAsync;
        server.InterceptingSubscriptionAsync += broker.InterceptSubscriptionAsync;
        if (broker._backlog is { } backlog)
        {
            server.ClientSubscribedTopicAsync += e =>
            {
                // Service accounts at QoS 1 are ingestion: the subscribers whose queues are watched.
                if (e.SessionItems?[RoleItem] is MqttRole.Service && e.TopicFilter.QualityOfServiceLevel >= MqttQualityOfServiceLevel.AtLeastOnce)
                {
                    backlog.Watch(e.ClientId);
                }

                return Task.CompletedTask;
            };
            server.ApplicationMessageEnqueuedOrDroppedAsync += e =>
            {
                if (!e.IsDropped && e.ApplicationMessage.QualityOfServiceLevel >= MqttQualityOfServiceLevel.AtLeastOnce)
                {
                    backlog.Enqueued(e.ReceiverClientId);
                }

                return Task.CompletedTask;
            };
            server.ClientAcknowledgedPublishPacketAsync += e =>
            {
                backlog.Acknowledged(e.ClientId);
                return Task.CompletedTask;
            };
            server.SessionDeletedAsync += e =>
            {
                backlog.Forget(e.Id);
                return Task.CompletedTask;
            };
        }

        await server.StartAsync().ConfigureAwait(false);
        return broker;
    }

    private Task ValidateConnectionAsync(ValidatingConnectionEventArgs e)
    {
        MqttUser? user = null;
        if (string.IsNullOrEmpty(e.UserName))
        {
            if (!_settings.AllowAnonymous)
            {
                Reject(e, MqttConnectReasonCode.NotAuthorized, "anonymous clients are not allowed");
                return Task.CompletedTask;
            }
        }
        else
        {
            user = _settings.Users.FirstOrDefault(u => string.Equals(u.Username, e.UserName, StringComparison.Ordinal));
            if (user is null || !PasswordMatches(user.Password, e.Password))
            {
                Reject(e, MqttConnectReasonCode.BadUserNameOrPassword, $"bad username or password for '{e.UserName}'");
                return Task.CompletedTask;
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
            return Task.CompletedTask;
        }

        e.SessionItems[RoleItem] = user?.Role ?? MqttRole.Service;
        if (user is null)
        {
            return Task.CompletedTask;
        }

        if (user.Role == MqttRole.Device && _settings.DeviceTopicPattern is { } pattern)
        {
            e.SessionItems[FilterItem] = new TopicFilter(pattern.Replace("{username}", user.Username, StringComparison.Ordinal));
        }

        return Task.CompletedTask;
    }

    private Task InterceptPublishAsync(InterceptingPublishEventArgs e)
    {
        // Messages the server injects itself have no session.
        if (e.SessionItems is null)
        {
            return Task.CompletedTask;
        }

        if (_backlog is { Holding: true } backlog)
        {
            return HoldThenCheckAsync(e, backlog);
        }

        return CheckDeviceTopic(e);
    }

    /// <summary>
    /// Holds a publisher while a service subscriber (the node's ingestion) has more than the backlog
    /// limit outstanding (queued or sent, not acknowledged): the interceptor runs on the publisher's connection, so waiting here stops
    /// reading from that publisher (TCP backpressure; at QoS 1 its PUBACK waits too) instead of
    /// letting the subscriber's queue grow. MQTTnet keeps a subscriber's unacknowledged QoS 1
    /// messages in a list it shifts on every PUBACK, so a long queue costs time per acknowledgement
    /// in proportion to its length: measured with the mqtt benchmark, an unbounded queue collapsed
    /// ingest to about 1,000 readings/s. Held at most publisher-max-hold, so a stuck subscriber
    /// slows publishers but never silences them.
    /// </summary>
    private async Task HoldThenCheckAsync(InterceptingPublishEventArgs e, SubscriberBacklogGate backlog)
    {
        Interlocked.Increment(ref _heldPublishes);
        try
        {
            await backlog.Release.WaitAsync(_settings.PublisherMaxHold, e.CancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // Let it through: the subscriber is not draining, and publishers must not hang on it.
        }
        catch (OperationCanceledException)
        {
            // The publisher disconnected while held.
        }

        await CheckDeviceTopic(e).ConfigureAwait(false);
    }

    private Task CheckDeviceTopic(InterceptingPublishEventArgs e)
    {
        VouchForPublisher(e);
        if (e.SessionItems[FilterItem] is not TopicFilter allowed)
        {
            return Task.CompletedTask;
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
        }

        return Task.CompletedTask;
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
}
