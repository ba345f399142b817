using System.Text;
using System.Text.Json;
using AnomalyActors.Core.DeadLetters;
using AnomalyActors.Core.Queries;
using Akka.Actor;
using MQTTnet;
using MQTTnet.Protocol;
using Xunit;

namespace AnomalyActors.Host.Tests;

/// <summary>
/// A node with its embedded broker and two device accounts, tried as a device that misbehaves would:
/// another account's client id, another device's identity in a payload field, a huge packet, huge names.
/// </summary>
public sealed class BrokerAbuseSpecs
{
    private const string Devices = """
        anomaly-actors.mqtt.broker.users = [
          { username = dev-1, password = pw-1, role = device }
          { username = dev-2, password = pw-2, role = device }
        ]
        """;

    [Fact]
    public async Task Should_refuse_a_device_that_connects_with_the_nodes_client_id_and_keep_scoring_the_others()
    {
        // Arrange
        var port = HostFixture.FreePortNumber();
        await using var host = await AnomalyHost.StartAsync(HostFixture.Config(HostFixture.NewDataDirectory(), port, extra: Devices));
        var nodeClientId = host.Settings.Mqtt.Subscriber.ClientId;

        // Act: dev-1 tries to take over the node's persistent session, then another device's id
        var takeover = await Record.ExceptionAsync(() => ConnectPersistentAsync(port, "dev-1", "pw-1", nodeClientId));
        var impersonation = await Record.ExceptionAsync(() => ConnectPersistentAsync(port, "dev-1", "pw-1", "dev-2"));
        using var own = await HostFixture.ConnectAsync(port, "dev-1", "pw-1", clientId: "dev-1-gateway");
        using var dev2 = await HostFixture.ConnectAsync(port, "dev-2", "pw-2", clientId: "dev-2");
        for (var i = 0; i < 20; i++)
        {
            await dev2.PublishAsync(new MqttApplicationMessageBuilder().WithTopic("sensors/s1/dev-2/temperature").WithPayload((20 + i % 3).ToString(System.Globalization.CultureInfo.InvariantCulture))
                .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
        }

        // Assert
        Assert.Contains("ClientIdentifierNotValid", takeover?.Message);
        Assert.Contains("ClientIdentifierNotValid", impersonation?.Message);
        Assert.Equal(2, host.Broker!.RefusedClientIds);
        await HostFixture.AwaitAsync(() => ScoredAsync(host, "s1/dev-2/temperature").Result == 20, TimeSpan.FromSeconds(30),
            () => $"dev-2's readings scored: {ScoredAsync(host, "s1/dev-2/temperature").Result}");
    }

    [Fact]
    public async Task Should_dead_letter_a_device_speaking_for_another_device_in_a_payload_field()
    {
        // Arrange: the fan format takes the device from the FANID field
        var port = HostFixture.FreePortNumber();
        var dataDirectory = HostFixture.NewDataDirectory();
        await using var host = await AnomalyHost.StartAsync(HostFixture.Config(dataDirectory, port, extra: Devices));
        using var dev1 = await HostFixture.ConnectAsync(port, "dev-1", "pw-1", clientId: "dev-1");
        using var service = await HostFixture.ConnectAsync(port, HostFixture.Username, HostFixture.Password);

        // Act: dev-1 claims dev-2's fan, then reports its own; a trusted gateway reports for dev-2
        await PublishFanAsync(dev1, "sensors/s1/dev-1/fan", "dev-2");
        await PublishFanAsync(dev1, "sensors/s1/dev-1/fan", "dev-1");
        await PublishFanAsync(service, "sensors/s1/gateway/fan", "dev-2");
        await HostFixture.AwaitAsync(() => host.MqttCounters!.Acknowledged >= 3, TimeSpan.FromSeconds(30), () => host.MqttCounters!.ToString());

        // Assert: dev-1 scored for itself only; dev-2's readings are the gateway's two
        Assert.Equal(2, await ScoredAsync(host, "s1/dev-1/FREQ") + await ScoredAsync(host, "s1/dev-1/RPM"));
        Assert.Equal(2, await ScoredAsync(host, "s1/dev-2/FREQ") + await ScoredAsync(host, "s1/dev-2/RPM"));
        Assert.Equal(1, host.MqttCounters!.DeadLettersFor(DeadLetterReason.ForeignDevice));
        var deadLetter = JsonDocument.Parse(File.ReadAllLines(Path.Combine(dataDirectory, "dead-letters.jsonl")).Single()).RootElement;
        Assert.Equal("ForeignDevice", deadLetter.GetProperty("reason").GetString());
        Assert.Contains("'dev-2'", deadLetter.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task Should_close_a_connection_that_sends_a_packet_over_the_limit_before_reading_it()
    {
        // Arrange
        var port = HostFixture.FreePortNumber();
        await using var host = await AnomalyHost.StartAsync(HostFixture.Config(HostFixture.NewDataDirectory(), port));
        using var big = await HostFixture.ConnectAsync(port, HostFixture.Username, HostFixture.Password);

        // Act: 8 MB in one publish
        var oversized = await Record.ExceptionAsync(() => big.PublishAsync(new MqttApplicationMessageBuilder().WithTopic("sensors/s1/d/temperature")
            .WithPayload(new byte[8 * 1024 * 1024]).WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build()));
        using var next = await HostFixture.ConnectAsync(port, HostFixture.Username, HostFixture.Password);
        await next.PublishAsync(new MqttApplicationMessageBuilder().WithTopic("sensors/s1/d/temperature").WithPayload("21.5")
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());

        // Assert: refused unread, and the broker serves the next client as before
        Assert.NotNull(oversized);
        Assert.Equal(1, host.Broker!.OversizedPackets);
        await HostFixture.AwaitAsync(() => ScoredAsync(host, "s1/d/temperature").Result == 1, TimeSpan.FromSeconds(30), () => "the next reading");
    }

    [Fact]
    public async Task Should_dead_letter_names_over_the_limits_instead_of_making_streams_of_them()
    {
        // Arrange
        var port = HostFixture.FreePortNumber();
        await using var host = await AnomalyHost.StartAsync(HostFixture.Config(HostFixture.NewDataDirectory(), port));
        using var service = await HostFixture.ConnectAsync(port, HostFixture.Username, HostFixture.Password);
        var longName = new string('x', 60_000);

        // Act: a long device name in the topic, and one in a payload field
        await service.PublishAsync(new MqttApplicationMessageBuilder().WithTopic($"sensors/s1/{longName}/temperature").WithPayload("21")
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
        await PublishFanAsync(service, "sensors/s1/gateway/fan", longName);
        await HostFixture.AwaitAsync(() => host.MqttCounters!.Acknowledged >= 2, TimeSpan.FromSeconds(30), () => host.MqttCounters!.ToString());

        // Assert
        Assert.Equal(2, host.MqttCounters!.DeadLettersFor(DeadLetterReason.NameTooLong));
        Assert.Equal(0, host.Node.Metrics.ReadingsScored);
    }

    private static async Task<IMqttClient> ConnectPersistentAsync(int port, string username, string password, string clientId)
    {
        var client = new MqttClientFactory().CreateMqttClient();
        var result = await client.ConnectAsync(new MqttClientOptionsBuilder()
            .WithTcpServer("127.0.0.1", port)
            .WithClientId(clientId)
            .WithCredentials(username, password)
            .WithProtocolVersion(MQTTnet.Formatter.MqttProtocolVersion.V500)
            .WithCleanStart(false)
            .WithSessionExpiryInterval(3600)
            .Build());
        if (result.ResultCode != MqttClientConnectResultCode.Success)
        {
            client.Dispose();
            throw new InvalidOperationException($"Connection refused: {result.ResultCode}");
        }

        return client;
    }

    private static Task PublishFanAsync(IMqttClient client, string topic, string fanId) =>
        client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(topic)
            .WithPayload(Encoding.UTF8.GetBytes($"{{\"TIME\":\"2019-09-09T10:00:00\",\"FANID\":\"{fanId}\",\"FREQ\":40,\"RPM\":1200}}"))
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());

    private static async Task<long> ScoredAsync(AnomalyHost host, string stream) =>
        (await host.Node.Sensors.Ask<SensorStateView>(new GetSensorState(stream), TimeSpan.FromSeconds(10))).ReadingsScored;
}
