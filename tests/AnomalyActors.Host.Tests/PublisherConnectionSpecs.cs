using System.Collections.Concurrent;
using System.Text;
using AnomalyActors.Mqtt.Simulation;
using MQTTnet.Packets;
using MQTTnet.Protocol;
using MQTTnet.Server;
using Xunit;

namespace AnomalyActors.Host.Tests;

public sealed class PublisherConnectionSpecs
{
    [Fact]
    public async Task Should_resend_unacknowledged_publishes_with_their_packet_ids_and_the_dup_flag_in_order_after_a_reconnect()
    {
        // Arrange: a broker that, at first, does not acknowledge
        var port = HostFixture.FreePortNumber();
        var arrived = new ConcurrentQueue<(ushort PacketId, bool Dup, string Payload)>();
        var acknowledge = false;
        using var server = new MqttServerFactory().CreateMqttServer(new MqttServerOptionsBuilder()
            .WithDefaultEndpoint().WithDefaultEndpointBoundIPAddress(System.Net.IPAddress.Loopback).WithDefaultEndpointPort(port).Build());
        server.InterceptingInboundPacketAsync += e =>
        {
            if (e.Packet is MqttPublishPacket publish)
            {
                arrived.Enqueue((publish.PacketIdentifier, publish.Dup, Encoding.UTF8.GetString(publish.Payload)));
            }

            return Task.CompletedTask;
        };
        server.InterceptingOutboundPacketAsync += e =>
        {
            e.ProcessPacket = acknowledge || e.Packet is not MqttPubAckPacket;
            return Task.CompletedTask;
        };
        await server.StartAsync();
        await using var connection = new PublisherConnection(new PublisherEndpoint("127.0.0.1", port, "device-1", null, null), maxInFlight: 10);
        await connection.ConnectAsync(CancellationToken.None);

        // Act: three publishes go unacknowledged, then the connection is lost
        foreach (var payload in new[] { "a", "b", "c" })
        {
            await connection.PublishAsync("sensors/s/device-1/t", Encoding.UTF8.GetBytes(payload), MqttQualityOfServiceLevel.AtLeastOnce, CancellationToken.None);
        }

        await HostFixture.AwaitAsync(() => arrived.Count == 3, TimeSpan.FromSeconds(10), () => $"{arrived.Count} of 3 first sends");
        acknowledge = true;
        await server.DisconnectClientAsync("device-1", MqttDisconnectReasonCode.UnspecifiedError);
        await HostFixture.AwaitAsync(() => connection.Published == 3, TimeSpan.FromSeconds(20), () => $"{connection.Published} acknowledged; arrived {string.Join(", ", arrived)}");

        // Assert
        var sends = arrived.ToArray();
        Assert.Equal(6, sends.Length);
        Assert.All(sends[..3], s => Assert.False(s.Dup));
        Assert.Equal(sends[..3].Select(s => (s.PacketId, true, s.Payload)), sends[3..]);
        Assert.Equal(3, sends.Select(s => s.PacketId).Distinct().Count());
        Assert.Equal(3, connection.Resent);
        Assert.Equal(1, connection.Reconnects);
        Assert.Equal(0, connection.Failed);
        await server.StopAsync();
    }
}
