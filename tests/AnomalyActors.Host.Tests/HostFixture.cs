using System.Globalization;
using System.Text.Json;
using Akka.Configuration;
using AnomalyActors.Testing;
using MQTTnet;

namespace AnomalyActors.Host.Tests;

/// <summary>An alert line of alerts.jsonl.</summary>
public sealed record AlertLine(string AlertId, string Type, string Stream, long TimestampMs);

public static class HostFixture
{
    /// <summary>The service account's password the tests' nodes are configured with (none ships with the product).</summary>
    public static readonly string Password = "test-" + Guid.NewGuid().ToString("N");

    /// <summary>The service account's name, as the shipped configuration has it.</summary>
    public const string Username = "anomaly-actors";

    public static string NewDataDirectory() => ScratchDirectory.Create("anomaly-actors-host-tests");

    /// <summary>A node on a fresh data dir with its embedded broker on a free port, or subscribed to an external broker.</summary>
    public static Config Config(string dataDirectory, int mqttPort, bool embedded = true, string extra = "") =>
        ConfigurationFactory.ParseString($$"""
            anomaly-actors.data-dir = "{{dataDirectory}}"
            anomaly-actors.alerts.console = off
            anomaly-actors.web.port = 0
            anomaly-actors.intake.partitions = 4
            anomaly-actors.mqtt.broker.embedded = {{(embedded ? "on" : "off")}}
            anomaly-actors.mqtt.broker.port = {{mqttPort}}
            anomaly-actors.mqtt.subscriber.port = {{mqttPort}}
            anomaly-actors.mqtt.subscriber.client-id = "ingest-{{Guid.NewGuid():N}}"
            anomaly-actors.mqtt.subscriber.password = "{{Password}}"
            akka.loglevel = WARNING
            akka.remote.dot-netty.tcp.port = 0
            {{extra}}
            """);

    public static IReadOnlyList<AlertLine> ReadAlerts(string dataDirectory)
    {
        var path = Path.Combine(dataDirectory, "alerts.jsonl");
        if (!File.Exists(path))
        {
            return [];
        }

        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using var reader = new StreamReader(stream);
        var alerts = new List<AlertLine>();
        while (reader.ReadLine() is { } line)
        {
            var json = JsonDocument.Parse(line).RootElement;
            alerts.Add(new AlertLine(
                json.GetProperty("alertId").GetString()!,
                json.GetProperty("type").GetString()!,
                $"{json.GetProperty("site").GetString()}/{json.GetProperty("device").GetString()}/{json.GetProperty("metric").GetString()}",
                DateTimeOffset.Parse(json.GetProperty("timestamp").GetString()!, CultureInfo.InvariantCulture).ToUnixTimeMilliseconds()));
        }

        return alerts;
    }

    public static async Task AwaitAsync(Func<bool> condition, TimeSpan timeout, Func<string> what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Timed out waiting: {what()}");
            }

            await Task.Delay(50);
        }
    }

    public static async Task<IMqttClient> ConnectAsync(int port, string? username, string? password, string? clientId = null, bool tls = false)
    {
        var options = new MqttClientOptionsBuilder()
            .WithTcpServer("127.0.0.1", port)
            // A device account may use only client ids it owns: its name, or its name and '-' and anything.
            .WithClientId(clientId ?? (username is null ? Guid.NewGuid().ToString("N") : $"{username}-{Guid.NewGuid():N}"))
            .WithProtocolVersion(MQTTnet.Formatter.MqttProtocolVersion.V500)
            .WithTimeout(TimeSpan.FromSeconds(10));
        if (username is not null)
        {
            options = options.WithCredentials(username, password);
        }

        if (tls)
        {
            options = options.WithTlsOptions(t => t.UseTls().WithAllowUntrustedCertificates().WithIgnoreCertificateChainErrors().WithCertificateValidationHandler(_ => true));
        }

        var client = new MqttClientFactory().CreateMqttClient();
        var result = await client.ConnectAsync(options.Build());
        if (result.ResultCode != MqttClientConnectResultCode.Success)
        {
            client.Dispose();
            throw new InvalidOperationException($"Connection refused: {result.ResultCode}");
        }

        return client;
    }

    public static int FreePortNumber() => FreePort.Next();
}
