using System.Globalization;
using System.Text.Json;
using AnomalyActors.Mqtt;
using AnomalyActors.Mqtt.Simulation;
using MQTTnet.Protocol;

namespace AnomalyActors.Cli;

/// <summary><c>simulate</c>: simulated devices publishing to any MQTT broker, with ground truth.</summary>
internal static class SimulateCommand
{
    public static readonly CommandSpec Spec = new(
        "simulate",
        "Publish simulated devices over MQTT to any broker and record which readings were made anomalous.",
        null,
        null,
        [
            new("host", "HOST", "Broker address (default 127.0.0.1)."),
            new("port", "PORT", "Broker port (default 1883)."),
            new("username", "NAME", "Account (default anomaly-actors, the node's service account)."),
            new("password", "SECRET", "Password (default: the node's generated service password in --data-dir)."),
            new("data-dir", "DIR", "Data directory of the node whose embedded broker this is, for its service password (default ./data)."),
            new("per-device-connections", null, "One connection per device, username = device id (brokers confining devices to their topics)."),
            new("spread", null, "With --rate: spread the devices' readings evenly over each period (unsynchronised clocks) instead of one burst per period."),
            new("tls", null, "Connect with TLS."),
            new("insecure", null, "With --tls: accept self-signed certificates."),
            new("kind", "demo|fan", "demo = the Kinesis RCF demo's sensor (values 10-20, 1% spikes of 100-120); fan = the IoT end-to-end pipeline's fan (FREQ/RPM with stalls); see docs/reference-pipelines.md."),
            new("devices", "N", "Number of devices (default 10)."),
            new("sites", "S", "Spread devices over S sites (default 1)."),
            new("rate", "R", "Readings per second per device (default 10; 0 = as fast as the broker takes them)."),
            new("count", "N", "Readings per device, then stop (default 0 = until Ctrl+C)."),
            new("qos", "0|1", "MQTT quality of service (default 1)."),
            new("seed", "N", "Random seed (default 42): the same seed gives the same readings."),
            new("max-in-flight", "N", "QoS 1 publishes per connection not yet acknowledged (default 2000, at most what the broker allows)."),
            new("warm-up", "N", "Readings per device before the first injected anomaly (default 50)."),
            new("ground-truth", "FILE", "Write the injected anomalies as JSON lines (stream, timestamp)."),
        ]);

    private static string ServicePasswordOf(ParsedArguments args)
    {
        var dataDirectory = Path.GetFullPath(args.Text("data-dir", "data"));
        return ServicePassword.TryRead(dataDirectory)
            ?? throw new UsageException(
                $"no password: give --password, or --data-dir of a node started with its embedded broker ({Path.Combine(dataDirectory, ServicePassword.FileName)} does not exist)");
    }

    public static async Task<int> ExecuteAsync(ParsedArguments args, CancellationToken stopping)
    {
        var options = new SimulatorOptions(
            args.Text("host", "127.0.0.1"),
            args.Int("port", 1883, minimum: 1, maximum: 65535),
            args.Text("username", "anomaly-actors"),
            args.Text("password") ?? ServicePasswordOf(args),
            args.Choice("kind", DeviceKind.Demo, new Dictionary<string, DeviceKind> { ["demo"] = DeviceKind.Demo, ["fan"] = DeviceKind.Fan }),
            args.Int("devices", 10, minimum: 1),
            args.Int("sites", 1, minimum: 1),
            args.Double("rate", 10),
            args.Long("count", 0),
            args.Choice("qos", MqttQualityOfServiceLevel.AtLeastOnce, new Dictionary<string, MqttQualityOfServiceLevel>
            {
                ["0"] = MqttQualityOfServiceLevel.AtMostOnce,
                ["1"] = MqttQualityOfServiceLevel.AtLeastOnce,
            }),
            args.Int("seed", 42, minimum: 0),
            args.Flag("per-device-connections"),
            Tls: args.Flag("tls"),
            AllowUntrustedCertificates: args.Flag("insecure"),
            MaxInFlight: args.Int("max-in-flight", 2000, minimum: 1, maximum: 65535),
            AnomalyWarmUp: args.Int("warm-up", 50, minimum: 0),
            Spread: args.Flag("spread"));
        if (args.Flag("insecure") && !options.Tls)
        {
            throw new UsageException("--insecure only applies with --tls");
        }

        StreamWriter? groundTruth = null;
        if (args.Text("ground-truth") is { } path)
        {
            groundTruth = new StreamWriter(path, append: false) { AutoFlush = true };
        }

        try
        {
            Console.WriteLine($"Publishing {options.Devices} {options.Kind.ToString().ToLowerInvariant()} device(s) to {options.Host}:{options.Port} at QoS {(int)options.Qos}" +
                (options.RatePerDevice > 0 ? string.Create(CultureInfo.InvariantCulture, $", {options.RatePerDevice} readings/s each") : ", as fast as possible") +
                (options.ReadingsPerDevice > 0 ? $", {options.ReadingsPerDevice} readings each" : ", until Ctrl+C"));
            var simulator = new DeviceSimulator(options, message => Console.Error.WriteLine(message));
            var result = await simulator.RunAsync(stopping, entry =>
                groundTruth?.WriteLine(JsonSerializer.Serialize(new { stream = entry.StreamKey, timestampMs = entry.TimestampMs })));
            var seconds = Math.Max(result.Elapsed.TotalSeconds, 1e-3);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"Published {result.Published:N0} readings in {seconds:0.0} s ({result.Published / seconds:N0}/s), {result.Anomalies.Count:N0} made anomalous, {result.Failed:N0} failed, {result.Resent:N0} sent again after {result.Reconnects:N0} reconnection(s)."));
            return result.Failed == 0 ? ExitCodes.Ok : ExitCodes.Failure;
        }
        finally
        {
            groundTruth?.Dispose();
        }
    }
}
