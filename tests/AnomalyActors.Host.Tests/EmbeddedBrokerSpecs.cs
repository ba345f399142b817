using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using AnomalyActors.Mqtt;
using MQTTnet;
using MQTTnet.Protocol;
using Xunit;

namespace AnomalyActors.Host.Tests;

public sealed class EmbeddedBrokerSpecs : IAsyncLifetime
{
    private readonly List<IAsyncDisposable> _owned = [];

    private static BrokerSettings Settings(int port, bool allowAnonymous = false, bool tls = false, int tlsPort = 0, string? certificate = null) => new(
        Embedded: true,
        Host: "127.0.0.1",
        Port: port,
        AllowAnonymous: allowAnonymous,
        Users:
        [
            new MqttUser("service", "service-secret", MqttRole.Service),
            new MqttUser("dev-1", "device-secret", MqttRole.Device),
        ],
        DeviceTopicPattern: "sensors/+/{username}/#",
        TlsEnabled: tls,
        TlsPort: tlsPort,
        TlsCertificate: certificate,
        TlsCertificatePassword: tls ? "pfx-secret" : null,
        MaxPendingMessagesPerClient: 1_000_000);

    private async Task<EmbeddedBroker> StartAsync(BrokerSettings settings)
    {
        var broker = await EmbeddedBroker.StartAsync(settings);
        _owned.Add(broker);
        return broker;
    }

    private async Task<(IMqttClient Client, ConcurrentQueue<string> Topics)> SubscribeAllAsync(int port, bool tls = false)
    {
        var client = await HostFixture.ConnectAsync(port, "service", "service-secret", tls: tls);
        var topics = new ConcurrentQueue<string>();
        client.ApplicationMessageReceivedAsync += e =>
        {
            topics.Enqueue(e.ApplicationMessage.Topic);
            return Task.CompletedTask;
        };
        await client.SubscribeAsync("sensors/#", MqttQualityOfServiceLevel.AtLeastOnce);
        return (client, topics);
    }

    [Fact]
    public async Task Should_refuse_anonymous_clients_unless_enabled()
    {
        var port = HostFixture.FreePortNumber();
        await StartAsync(Settings(port));

        var refused = await Assert.ThrowsAnyAsync<Exception>(() => HostFixture.ConnectAsync(port, null, null));

        Assert.Contains("NotAuthorized", refused.Message, StringComparison.OrdinalIgnoreCase);
        var openPort = HostFixture.FreePortNumber();
        await StartAsync(Settings(openPort, allowAnonymous: true));
        using var anonymous = await HostFixture.ConnectAsync(openPort, null, null);
        Assert.True(anonymous.IsConnected);
    }

    [Fact]
    public async Task Should_refuse_a_wrong_password()
    {
        var port = HostFixture.FreePortNumber();
        var broker = await StartAsync(Settings(port));

        var refused = await Assert.ThrowsAnyAsync<Exception>(() => HostFixture.ConnectAsync(port, "dev-1", "guess"));

        Assert.Contains("BadUserNameOrPassword", refused.Message, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(1, broker.RejectedConnections);
    }

    [Fact]
    public async Task Should_deliver_a_device_publish_only_under_its_own_subtree()
    {
        var port = HostFixture.FreePortNumber();
        var broker = await StartAsync(Settings(port));
        var (subscriber, topics) = await SubscribeAllAsync(port);
        using var device = await HostFixture.ConnectAsync(port, "dev-1", "device-secret");

        var own = await device.PublishAsync(new MqttApplicationMessageBuilder().WithTopic("sensors/s1/dev-1/demo").WithPayload("15")
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
        var foreign = await device.PublishAsync(new MqttApplicationMessageBuilder().WithTopic("sensors/s1/dev-2/demo").WithPayload("15")
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
        // A marker from the service account: once it arrives, anything before it would have too.
        await subscriber.PublishAsync(new MqttApplicationMessageBuilder().WithTopic("sensors/s1/marker/x").WithPayload("1")
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
        await HostFixture.AwaitAsync(() => topics.Contains("sensors/s1/marker/x"), TimeSpan.FromSeconds(10), () => "marker");

        Assert.True(own.IsSuccess);
        Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, foreign.ReasonCode);
        Assert.Equal(["sensors/s1/dev-1/demo", "sensors/s1/marker/x"], topics);
        Assert.Equal(1, broker.DeniedPublishes);
        subscriber.Dispose();
    }

    [Fact]
    public async Task Should_refuse_device_subscriptions_beyond_its_subtree()
    {
        var port = HostFixture.FreePortNumber();
        var broker = await StartAsync(Settings(port));
        using var device = await HostFixture.ConnectAsync(port, "dev-1", "device-secret");

        var all = await device.SubscribeAsync("sensors/#", MqttQualityOfServiceLevel.AtLeastOnce);
        var own = await device.SubscribeAsync("sensors/+/dev-1/#", MqttQualityOfServiceLevel.AtLeastOnce);

        Assert.Equal(MqttClientSubscribeResultCode.NotAuthorized, all.Items.Single().ResultCode);
        Assert.Equal(MqttClientSubscribeResultCode.GrantedQoS1, own.Items.Single().ResultCode);
        Assert.Equal(1, broker.DeniedSubscriptions);
    }

    [Fact]
    public async Task Should_serve_tls_with_the_configured_certificate()
    {
        var certificate = Path.Combine(HostFixture.NewDataDirectory(), "broker.pfx");
        using (var rsa = RSA.Create(2048))
        {
            var request = new CertificateRequest("CN=127.0.0.1", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
            using var self = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
            await File.WriteAllBytesAsync(certificate, self.Export(X509ContentType.Pkcs12, "pfx-secret"));
        }

        var port = HostFixture.FreePortNumber();
        var tlsPort = HostFixture.FreePortNumber();
        await StartAsync(Settings(port, tls: true, tlsPort: tlsPort, certificate: certificate));
        var (subscriber, topics) = await SubscribeAllAsync(tlsPort, tls: true);
        using var device = await HostFixture.ConnectAsync(tlsPort, "dev-1", "device-secret", tls: true);

        await device.PublishAsync(new MqttApplicationMessageBuilder().WithTopic("sensors/s1/dev-1/demo").WithPayload("15")
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
        await HostFixture.AwaitAsync(() => topics.Contains("sensors/s1/dev-1/demo"), TimeSpan.FromSeconds(10), () => "message over TLS");

        // A plain-TCP client cannot talk to the TLS port.
        await Assert.ThrowsAnyAsync<Exception>(() => HostFixture.ConnectAsync(tlsPort, "dev-1", "device-secret"));
        subscriber.Dispose();
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Should_deliver_every_unacknowledged_message_again_to_the_connection_that_resumes_the_session(bool takeover)
    {
        var port = HostFixture.FreePortNumber();
        await StartAsync(Settings(port));
        const string ClientId = "resuming-subscriber";
        const int Messages = 50;
        using var publisher = await HostFixture.ConnectAsync(port, "service", "service-secret");
        var previous = await ConnectHoldingAsync(port, ClientId);
        await previous.Client.SubscribeAsync("sensors/#", MqttQualityOfServiceLevel.AtLeastOnce);
        for (var i = 0; i < Messages; i++)
        {
            await publisher.PublishAsync(new MqttApplicationMessageBuilder().WithTopic("sensors/s/d/x").WithPayload($"{i}")
                .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
        }

        await HostFixture.AwaitAsync(() => previous.Payloads.Count == Messages, TimeSpan.FromSeconds(10), () => $"{previous.Payloads.Count} first deliveries");

        // Every round resumes the session holding all of them unacknowledged: by taking it over from
        // a connection the broker still holds (a client back after a network fault the broker has not
        // noticed yet), or right after a clean disconnect.
        for (var round = 0; round < 30; round++)
        {
            if (!takeover)
            {
                await previous.Client.DisconnectAsync();
            }

            var next = await ConnectHoldingAsync(port, ClientId);
            await HostFixture.AwaitAsync(() => next.Payloads.Count >= Messages, TimeSpan.FromSeconds(10), () => $"round {round}: {next.Payloads.Count} of {Messages} delivered again, missing {string.Join(",", Enumerable.Range(0, Messages).Select(i => $"{i}").Except(next.Payloads))}");
            Assert.Equal(Enumerable.Range(0, Messages).Select(i => $"{i}").Order(), next.Payloads.Order());
            previous.Client.Dispose();
            previous = next;
        }

        previous.Client.Dispose();
    }

    /// <summary>A persistent-session client that acknowledges nothing and records what it is sent.</summary>
    private static async Task<(IMqttClient Client, ConcurrentQueue<string> Payloads)> ConnectHoldingAsync(int port, string clientId)
    {
        var client = new MqttClientFactory().CreateMqttClient();
        var payloads = new ConcurrentQueue<string>();
        client.ApplicationMessageReceivedAsync += e =>
        {
            e.AutoAcknowledge = false;
            payloads.Enqueue(e.ApplicationMessage.ConvertPayloadToString());
            return Task.CompletedTask;
        };
        var options = new MqttClientOptionsBuilder()
            .WithTcpServer("127.0.0.1", port)
            .WithClientId(clientId)
            .WithCredentials("service", "service-secret")
            .WithProtocolVersion(MQTTnet.Formatter.MqttProtocolVersion.V500)
            .WithCleanStart(false)
            .WithSessionExpiryInterval(600)
            .WithTimeout(TimeSpan.FromSeconds(10))
            .Build();
        var result = await client.ConnectAsync(options);
        Assert.Equal(MqttClientConnectResultCode.Success, result.ResultCode);
        return (client, payloads);
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var owned in _owned)
        {
            await owned.DisposeAsync();
        }
    }
}
