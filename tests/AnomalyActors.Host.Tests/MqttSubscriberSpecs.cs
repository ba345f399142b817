using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using AnomalyActors.Mqtt;
using Xunit;

namespace AnomalyActors.Host.Tests;

public sealed partial class MqttSubscriberSpecs
{
    [Fact]
    public async Task Should_open_its_socket_with_the_configured_kernel_buffers()
    {
        // Arrange: the node's subscriber settings from hocon/, on a broker of its own.
        var port = HostFixture.FreePortNumber();
        var (config, source) = Node.Hosting.NodeConfig.Load(HostFixture.Config(HostFixture.NewDataDirectory(), port, embedded: false, extra: "anomaly-actors.mqtt.broker.allow-anonymous = on"));
        var settings = MqttSettings.FromConfig(config, "/tmp", source);
        await using var broker = await EmbeddedBroker.StartAsync(settings.Broker);
        var subscriber = settings.Subscriber with { ClientId = $"buffers-{Guid.NewGuid():N}", Username = null, Password = null };
        await using var client = new MqttSubscriber(subscriber);

        // Act
        await client.StartAsync(TimeSpan.FromSeconds(10));

        // Assert: Linux doubles SO_RCVBUF and caps the request at net.core.rmem_max. MQTTnet's own
        // default (8 KiB, so 16 KiB here) made the broker stall on TCP's persist timer.
        var rmemMax = long.Parse(File.ReadAllText("/proc/sys/net/core/rmem_max").Trim(), CultureInfo.InvariantCulture);
        var expected = 2 * Math.Min(subscriber.SocketBufferBytes, rmemMax);
        Assert.True(expected > 2 * 8192, $"the configured {subscriber.SocketBufferBytes} bytes (rmem_max {rmemMax}) would not change MQTTnet's default");
        Assert.Equal(expected, await ClientReceiveBufferAsync(port));
    }

    /// <summary>The kernel receive buffer (ss's skmem rb) of the one client socket connected to the port.</summary>
    private static async Task<long> ClientReceiveBufferAsync(int brokerPort)
    {
        var start = new ProcessStartInfo("ss", ["-tmnH", "state", "established", $"( dport = :{brokerPort} )"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var ss = Process.Start(start) ?? throw new InvalidOperationException("ss (iproute2) did not start");
        var output = await ss.StandardOutput.ReadToEndAsync();
        await ss.WaitForExitAsync();
        var buffers = ReceiveBuffer().Matches(output).Select(m => long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)).ToList();
        Assert.True(buffers.Count == 1, $"expected one client socket to port {brokerPort}, ss printed: {output}");
        return buffers[0];
    }

    [GeneratedRegex(@"skmem:\(r\d+,rb(\d+),")]
    private static partial Regex ReceiveBuffer();
}
