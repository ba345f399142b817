using System.Globalization;
using Akka.Configuration;
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
    int MaxPendingMessagesPerClient,
    int SubscriberBacklogLimit = 0,
    TimeSpan PublisherMaxHold = default);

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
    TimeSpan DrainTimeout);

/// <summary>The <c>anomaly-actors.mqtt</c> section, parsed once.</summary>
public sealed record MqttSettings(bool Enabled, BrokerSettings Broker, SubscriberSettings Subscriber)
{
    public const string Path = "anomaly-actors.mqtt";

    public static MqttSettings FromConfig(Config root, string dataDirectory, string source)
    {
        ArgumentNullException.ThrowIfNull(root);
        var c = root.GetConfig(Path);
        if (c is null || c.IsEmpty)
        {
            throw new ConfigurationException($"Missing configuration section '{Path}' ({source}).");
        }

        var reader = new Reader(c, source);
        var users = new List<MqttUser>();
        var usersValue = c.GetValue("broker.users");
        if (usersValue is not null && !usersValue.IsEmpty)
        {
            var i = 0;
            foreach (var entry in usersValue.GetArray())
            {
                var key = $"{Path}.broker.users[{i++}]";
                var user = new Config(new Akka.Configuration.Hocon.HoconRoot(entry));
                var name = user.GetString("username", string.Empty);
                var password = user.GetString("password", string.Empty);
                var roleName = user.GetString("role", "device");
                if (string.IsNullOrWhiteSpace(name) || string.IsNullOrEmpty(password))
                {
                    throw new ConfigurationException($"'{key}' needs a username and a password ({source}).");
                }

                var role = roleName switch
                {
                    "device" => MqttRole.Device,
                    "service" => MqttRole.Service,
                    _ => throw new ConfigurationException($"'{key}.role' is '{roleName}'; expected device or service ({source})."),
                };
                users.Add(new MqttUser(name, password, role));
            }
        }

        var pattern = c.GetString("broker.device-topic-pattern", string.Empty);
        if (!string.IsNullOrEmpty(pattern) && !pattern.Contains("{username}", StringComparison.Ordinal))
        {
            throw new ConfigurationException($"'{Path}.broker.device-topic-pattern' is '{pattern}'; it must contain {{username}} ({source}).");
        }

        var tlsEnabled = c.GetBoolean("broker.tls.enabled", false);
        var certificate = c.GetString("broker.tls.certificate", string.Empty);
        if (tlsEnabled && string.IsNullOrWhiteSpace(certificate))
        {
            throw new ConfigurationException($"'{Path}.broker.tls.enabled' is on but '{Path}.broker.tls.certificate' is empty ({source}).");
        }

        var broker = new BrokerSettings(
            c.GetBoolean("broker.embedded", true),
            reader.Text("broker.host"),
            reader.Port("broker.port"),
            c.GetBoolean("broker.allow-anonymous", false),
            users,
            string.IsNullOrWhiteSpace(pattern) ? null : pattern,
            tlsEnabled,
            reader.Port("broker.tls.port"),
            string.IsNullOrWhiteSpace(certificate) ? null : System.IO.Path.GetFullPath(certificate),
            c.GetString("broker.tls.certificate-password", string.Empty) is { Length: > 0 } p ? p : null,
            reader.PositiveInt("broker.max-pending-messages-per-client"),
            reader.NonNegativeInt("broker.subscriber-backlog-limit"),
            reader.PositiveDuration("broker.publisher-max-hold"));

        var qos = c.GetInt("subscriber.qos", 1);
        if (qos is < 0 or > 2)
        {
            throw new ConfigurationException($"'{Path}.subscriber.qos' is {qos}; expected 0, 1 or 2 ({source}).");
        }

        var receiveMaximum = reader.PositiveInt("subscriber.receive-maximum");
        var subscriber = new SubscriberSettings(
            reader.Text("subscriber.host"),
            reader.Port("subscriber.port"),
            c.GetBoolean("subscriber.tls", false),
            c.GetBoolean("subscriber.allow-untrusted-certificates", false),
            reader.Text("subscriber.client-id"),
            c.GetString("subscriber.username", string.Empty) is { Length: > 0 } u ? u : null,
            c.GetString("subscriber.password", string.Empty) is { Length: > 0 } pw ? pw : null,
            reader.Text("subscriber.topic-filter"),
            (MqttQualityOfServiceLevel)qos,
            c.GetBoolean("subscriber.persistent-session", true),
            reader.PositiveDuration("subscriber.session-expiry"),
            (ushort)Math.Min(receiveMaximum, ushort.MaxValue),
            reader.PositiveInt("subscriber.buffer"),
            reader.PositiveInt("subscriber.socket-buffer-bytes"),
            reader.PositiveDuration("subscriber.reconnect-backoff"),
            reader.PositiveDuration("subscriber.drain-timeout"));

        if (subscriber.Username is { } account && broker.Users.All(u => u.Username != account))
        {
            // The node's own client must always get in, whatever the environment set its password to.
            broker = broker with { Users = [.. broker.Users, new MqttUser(account, subscriber.Password ?? string.Empty, MqttRole.Service)] };
        }

        return new MqttSettings(c.GetBoolean("enabled", true), broker, subscriber);
    }

    private readonly struct Reader(Config c, string source)
    {
        public string Text(string key)
        {
            var value = c.GetString(key, string.Empty);
            return string.IsNullOrWhiteSpace(value)
                ? throw new ConfigurationException($"Missing or empty configuration key '{Path}.{key}' ({source}).")
                : value;
        }

        public int Port(string key)
        {
            var value = c.GetInt(key, -1);
            return value is >= 0 and <= 65535
                ? value
                : throw new ConfigurationException($"Configuration key '{Path}.{key}' must be a port number 0-65535 ({source}).");
        }

        public int NonNegativeInt(string key)
        {
            var value = c.GetInt(key, -1);
            return value >= 0
                ? value
                : throw new ConfigurationException($"Configuration key '{Path}.{key}' must be zero or a positive integer ({source}).");
        }

        public int PositiveInt(string key)
        {
            var value = c.GetInt(key, 0);
            return value >= 1
                ? value
                : throw new ConfigurationException($"Configuration key '{Path}.{key}' must be a positive integer ({source}).");
        }

        public TimeSpan PositiveDuration(string key)
        {
            var value = c.GetTimeSpan(key, TimeSpan.Zero, allowInfinite: false);
            return value > TimeSpan.Zero
                ? value
                : throw new ConfigurationException(string.Create(CultureInfo.InvariantCulture, $"Configuration key '{Path}.{key}' must be a positive duration ({source})."));
        }
    }
}
