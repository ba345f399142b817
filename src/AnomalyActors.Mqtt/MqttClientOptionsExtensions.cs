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
}
