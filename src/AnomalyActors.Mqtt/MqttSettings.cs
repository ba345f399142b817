using Akka.Configuration;
using AnomalyActors.Core.Configuration;
using MQTTnet.Protocol;

namespace AnomalyActors.Mqtt;

public enum MqttRole
{
    /// <summary>May publish only under its own topic subtree (the device topic pattern).</summary>
    Device,

    /// <summary>Unrestricted: the node's own subscriber, gateways, the built-in simulator.</summary>
    Service,
}

public sealed record MqttUser(string Username, string Password, MqttRole Role);

/// <summary>The embedded broker (<c>anomaly-actors.mqtt.broker</c>).</summary>
public sealed record BrokerSettings(
    bool Embedded,
    string Host,
    int Port,
    bool AllowAnonymous,
    IReadOnlyList<MqttUser> Users,
    string? DeviceTopicPattern,
    bool TlsEnabled,
    int TlsPort,
    string? TlsCertificate,
    string? TlsCertificatePassword,
    int MaxPendingMessagesPerClient)
{
    /// <summary>QoS 1/2 publishes a device account may have unacknowledged (not yet durable) at once.</summary>
    public int DeviceReceiveMaximum { get; init; } = 100;

    /// <summary>The same for service accounts (gateways, the simulator) and anonymous clients.</summary>
    public int ServiceReceiveMaximum { get; init; } = 8000;

    /// <summary>Largest MQTT packet a client may send; a larger one closes its connection unread.</summary>
    public int MaxPacketBytes { get; init; } = 256 * 1024;

    /// <summary>Client ids only one account may use (the node's own subscriber's), by id.</summary>
    public IReadOnlyDictionary<string, string> ReservedClientIds { get; init; } = new Dictionary<string, string>();
}

/// <summary>The node's subscriber (<c>anomaly-actors.mqtt.subscriber</c>).</summary>
public sealed record SubscriberSettings(
    string Host,
    int Port,
    bool Tls,
    bool AllowUntrustedCertificates,
    string ClientId,
    string? Username,
    string? Password,
    string TopicFilter,
    MqttQualityOfServiceLevel Qos,
    bool PersistentSession,
    TimeSpan SessionExpiry,
    ushort ReceiveMaximum,
    int Buffer,
    int SocketBufferBytes,
    TimeSpan ReconnectBackoff,
    TimeSpan DrainTimeout)
{
    /// <summary>Which members of a cluster subscribe (a node of its own always does).</summary>
    public ClusterSubscription InCluster { get; init; } = ClusterSubscription.Singleton;

    /// <summary>The shared subscription's group name, in <see cref="ClusterSubscription.Shared"/> mode.</summary>
    public string ShareGroup { get; init; } = "anomaly-actors";

    /// <summary>
    /// This member's subscriber in <see cref="ClusterSubscription.Shared"/> mode: its own client id
    /// (its own persistent session, which must survive a restart of the member, so it is named
    /// after the member's cluster endpoint), subscribed to the filter as a share of the group.
    /// </summary>
    public SubscriberSettings SharedBy(string memberHost, int memberPort) => this with
    {
        ClientId = $"{ClientId}-{System.Text.RegularExpressions.Regex.Replace(memberHost, "[^A-Za-z0-9]", "-")}-{memberPort.ToString(System.Globalization.CultureInfo.InvariantCulture)}",
        TopicFilter = $"$share/{ShareGroup}/{TopicFilter}",
    };
}

/// <summary>How the members of a cluster share one external broker's messages.</summary>
public enum ClusterSubscription
{
    /// <summary>One member at a time (a cluster singleton) holds the site's one session: order kept, exact state.</summary>
    Singleton,

    /// <summary>Every member holds a session of its own in one MQTT 5 shared subscription: the broker spreads the load.</summary>
    Shared,
}

/// <summary>The <c>anomaly-actors.mqtt</c> section, parsed once.</summary>
public sealed record MqttSettings(bool Enabled, BrokerSettings Broker, SubscriberSettings Subscriber)
{
    public const string Path = "anomaly-actors.mqtt";

    public static MqttSettings FromConfig(Config root, string dataDirectory, ConfigOrigin source)
    {
        var c = new SettingsReader(root, Path, source);
        var users = new List<MqttUser>();
        c.Has("broker.users");
        var usersValue = c.Section.GetValue("broker.users");
        if (usersValue is not null && !usersValue.IsEmpty)
        {
            var i = 0;
            foreach (var entry in usersValue.GetArray())
            {
                var user = SettingsReader.ForBlock(new Config(new Akka.Configuration.Hocon.HoconRoot(entry)), $"{Path}.broker.users[{i++}]", source);
                users.Add(new MqttUser(
                    user.Text("username"),
                    user.Text("password"),
                    user.Choice("role", new Dictionary<string, MqttRole> { ["device"] = MqttRole.Device, ["service"] = MqttRole.Service }, MqttRole.Device)));
                user.RejectUnknownKeys();
            }
        }

        var pattern = c.OptionalText("broker.device-topic-pattern");
        if (pattern is not null && !pattern.Contains("{username}", StringComparison.Ordinal))
        {
            throw c.Invalid("broker.device-topic-pattern", pattern, "a pattern containing {username}");
        }

        var tlsEnabled = c.Flag("broker.tls.enabled", false);
        var certificate = c.OptionalText("broker.tls.certificate");
        if (tlsEnabled && certificate is null)
        {
            throw new ConfigurationException($"'{c.Key("broker.tls.enabled")}' is on but '{c.Key("broker.tls.certificate")}' is empty ({source}).");
        }

        var broker = new BrokerSettings(
            c.Flag("broker.embedded", true),
            c.Text("broker.host"),
            c.Port("broker.port"),
            c.Flag("broker.allow-anonymous", false),
            users,
            pattern,
            tlsEnabled,
            c.Port("broker.tls.port"),
            certificate is null ? null : System.IO.Path.GetFullPath(certificate),
            c.OptionalText("broker.tls.certificate-password"),
            c.PositiveInt("broker.max-pending-messages-per-client"))
        {
            MaxPacketBytes = c.Int("broker.max-packet-bytes", minimum: 1024),
            DeviceReceiveMaximum = c.Int("broker.device-receive-maximum", minimum: 1, maximum: ushort.MaxValue),
            ServiceReceiveMaximum = c.Int("broker.service-receive-maximum", minimum: 1, maximum: ushort.MaxValue),
        };

        var subscriber = new SubscriberSettings(
            c.Text("subscriber.host"),
            c.Port("subscriber.port"),
            c.Flag("subscriber.tls", false),
            c.Flag("subscriber.allow-untrusted-certificates", false),
            c.Text("subscriber.client-id"),
            c.OptionalText("subscriber.username"),
            c.OptionalText("subscriber.password"),
            c.Text("subscriber.topic-filter"),
            (MqttQualityOfServiceLevel)c.Int("subscriber.qos", minimum: 0, maximum: 2),
            c.Flag("subscriber.persistent-session", true),
            c.PositiveDuration("subscriber.session-expiry"),
            (ushort)c.Int("subscriber.receive-maximum", minimum: 1, maximum: ushort.MaxValue),
            c.PositiveInt("subscriber.buffer"),
            c.PositiveInt("subscriber.socket-buffer-bytes"),
            c.PositiveDuration("subscriber.reconnect-backoff"),
            c.PositiveDuration("subscriber.drain-timeout"))
        {
            InCluster = c.Choice("subscriber.in-cluster", new Dictionary<string, ClusterSubscription>
            {
                ["singleton"] = ClusterSubscription.Singleton,
                ["shared"] = ClusterSubscription.Shared,
            }),
            ShareGroup = ShareGroupOf(c),
        };

        return new MqttSettings(c.Flag("enabled", true), broker, subscriber);
    }

    private static string ShareGroupOf(SettingsReader c)
    {
        var group = c.Text("subscriber.share-group");
        // MQTT 5 forbids these in a share name; the broker would refuse the subscription.
        if (group.IndexOfAny(['/', '+', '#']) >= 0)
        {
            throw c.Invalid("subscriber.share-group", group, "a name without '/', '+' or '#'");
        }

        return group;
    }

    /// <summary>
    /// The settings a node runs with. With the embedded broker the subscriber's account is a service
    /// account of that broker, so the node's own client always gets in: its password is the configured
    /// one, else the one a listed user of that name has, else <see cref="ServicePassword"/>'s. An
    /// external broker gets what is configured, nothing more.
    /// </summary>
    public MqttSettings WithServiceAccount(string dataDirectory)
    {
        if (!Broker.Embedded || Subscriber.Username is not { } account)
        {
            return this;
        }

        var listed = Broker.Users.FirstOrDefault(u => u.Username == account);
        var password = Subscriber.Password ?? listed?.Password ?? ServicePassword.ReadOrCreate(dataDirectory);
        var broker = (listed is null ? Broker with { Users = [.. Broker.Users, new MqttUser(account, password, MqttRole.Service)] } : Broker) with
        {
            // Whoever connects with the subscriber's id takes over its session and its messages.
            ReservedClientIds = new Dictionary<string, string>(Broker.ReservedClientIds) { [Subscriber.ClientId] = account },
        };
        return this with { Broker = broker, Subscriber = Subscriber with { Password = password } };
    }
}
