using MQTTnet;

namespace AnomalyActors.Mqtt;

/// <summary>Account and TLS settings shared by every client this project opens (subscriber, simulator).</summary>
public static class MqttClientOptionsExtensions
{
    public static MqttClientOptionsBuilder WithAccount(this MqttClientOptionsBuilder builder, string? username, string? password) =>
        username is null ? builder : builder.WithCredentials(username, password);

    /// <param name="allowUntrusted">Accept self-signed and otherwise unverifiable certificates (tests, labs).</param>
    public static MqttClientOptionsBuilder WithTls(this MqttClientOptionsBuilder builder, bool tls, bool allowUntrusted)
    {
        if (!tls)
        {
            return builder;
        }

        return builder.WithTlsOptions(options =>
        {
            options.UseTls();
            if (allowUntrusted)
            {
                options.WithAllowUntrustedCertificates()
                    .WithIgnoreCertificateChainErrors()
                    .WithCertificateValidationHandler(_ => true);
            }
        });
    }

    /// <summary>
    /// Sets the socket's kernel send and receive buffers (MQTTnet's default is 8 KiB, far below a
    /// loopback segment, which makes the sending side wait on TCP's persist timer).
    /// </summary>
    public static MqttClientOptions WithSocketBuffers(this MqttClientOptions options, int bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bytes);
        if (options.ChannelOptions is MqttClientTcpOptions tcp)
        {
            tcp.BufferSize = bytes;
        }

        return options;
    }
}
