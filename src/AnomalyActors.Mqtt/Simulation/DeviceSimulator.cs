using System.Diagnostics;
using System.Text;
using MQTTnet.Protocol;

namespace AnomalyActors.Mqtt.Simulation;

public enum DeviceKind
{
    /// <summary>The Kinesis RCF demo's sensor (iotName / iotValue; docs/reference-pipelines.md).</summary>
    Demo,

    /// <summary>The fan of the IoT end-to-end pipeline (FANID / FREQ / RPM; docs/reference-pipelines.md).</summary>
    Fan,
}

/// <param name="RatePerDevice">Readings per second per device; 0 publishes as fast as the broker takes them.</param>
/// <param name="ReadingsPerDevice">Messages per device; 0 runs until cancelled.</param>
/// <param name="MaxInFlight">QoS 1 publishes a connection may have unacknowledged (at most the broker's receive maximum). A broker that acknowledges only durable messages allows about this many per batch delay, per connection.</param>
/// <param name="SiteNames">The sites' names in the devices' topics, instead of site-1.. (<paramref name="Sites"/> is then their number).</param>
/// <param name="PerDeviceConnections">One connection per device with the device id as username (for brokers that confine devices to their topics); otherwise one shared connection.</param>
/// <param name="Spread">With a rate: device d of N sends each reading d/N of a period after the period starts, as a fleet's unsynchronised clocks do; otherwise every device sends at the start of the period, one burst per period.</param>
public sealed record SimulatorOptions(
    string Host,
    int Port,
    string? Username,
    string? Password,
    DeviceKind Kind = DeviceKind.Demo,
    int Devices = 10,
    int Sites = 1,
    double RatePerDevice = 10,
    long ReadingsPerDevice = 0,
    MqttQualityOfServiceLevel Qos = MqttQualityOfServiceLevel.AtLeastOnce,
    int Seed = 42,
    bool PerDeviceConnections = false,
    int MaxInFlight = 2000,
    bool Tls = false,
    bool AllowUntrustedCertificates = false,
    int AnomalyWarmUp = 50,
    IReadOnlyList<string>? SiteNames = null,
    bool Spread = false)
{
    public void Validate()
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(Host);
        ArgumentOutOfRangeException.ThrowIfLessThan(Devices, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(Sites, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(RatePerDevice);
        ArgumentOutOfRangeException.ThrowIfNegative(ReadingsPerDevice);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxInFlight, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(AnomalyWarmUp);
    }
}

/// <summary>A reading the simulator made anomalous: the ground truth for checking the detectors.</summary>
public sealed record GroundTruthEntry(string StreamKey, long TimestampMs);

/// <param name="Published">Publishes the broker acknowledged (QoS 1) or took (QoS 0).</param>
/// <param name="Failed">Publishes given up: refused by the broker, or QoS 0 ones lost with a connection.</param>
/// <param name="Resent">QoS 1 publishes sent again after their connection was lost unacknowledged.</param>
/// <param name="Reconnects">Times a lost connection was made again.</param>
public sealed record SimulationResult(long Published, long Failed, IReadOnlyList<GroundTruthEntry> Anomalies, TimeSpan Elapsed, long Resent = 0, long Reconnects = 0);

/// <summary>
/// Publishes simulated devices over MQTT to any broker: devices dev-0001.. spread over sites
/// site-1.., topic sensors/&lt;site&gt;/&lt;device&gt;/&lt;kind&gt;. Timestamps are the wall clock, strictly
/// increasing per device; the readings it made anomalous are returned (and reported as they happen).
/// </summary>
public sealed class DeviceSimulator(SimulatorOptions options, Action<string>? log = null)
{
    private readonly Action<string> _log = log ?? (_ => { });
    private volatile PublisherConnection[] _connections = [];

    /// <summary>Publishes acknowledged so far (QoS 1) or taken (QoS 0), while <see cref="RunAsync"/> runs.</summary>
    public long PublishedSoFar => _connections.Sum(c => c.Published);

    public static string DeviceName(int index) => $"dev-{index + 1:D4}";

    public static string SiteName(int index) => $"site-{index + 1}";

    public async Task<SimulationResult> RunAsync(CancellationToken cancellation = default, Action<GroundTruthEntry>? onAnomaly = null)
    {
        options.Validate();
        var random = new Random(options.Seed);
        IDeviceGenerator generator = options.Kind == DeviceKind.Fan
            ? new FanGenerator(random, warmUp: options.AnomalyWarmUp)
            : new DemoSensorGenerator(random, warmUp: options.AnomalyWarmUp);
        var devices = Enumerable.Range(0, options.Devices)
            .Select(i => new Device(options.SiteNames is { Count: > 0 } names ? names[i % names.Count] : SiteName(i % options.Sites), DeviceName(i)))
            .ToArray();
        var connections = await ConnectAsync(devices, cancellation).ConfigureAwait(false);
        _connections = connections;
        var anomalies = new List<GroundTruthEntry>();
        var stopwatch = Stopwatch.StartNew();
        long published = 0, failed = 0;
        try
        {
            var round = 0L;
            while (!cancellation.IsCancellationRequested && (options.ReadingsPerDevice == 0 || round < options.ReadingsPerDevice))
            {
                if (options.RatePerDevice > 0)
                {
                    var due = TimeSpan.FromSeconds(round / options.RatePerDevice) - stopwatch.Elapsed;
                    if (due > TimeSpan.Zero)
                    {
                        await Task.Delay(due, cancellation).ConfigureAwait(false);
                    }
                }

                for (var d = 0; d < devices.Length; d++)
                {
                    if (options.Spread && options.RatePerDevice > 0)
                    {
                        // Waits of at least a millisecond: the timer's resolution, and a few hundred per period at most.
                        var phase = TimeSpan.FromSeconds((round + (double)d / devices.Length) / options.RatePerDevice) - stopwatch.Elapsed;
                        if (phase >= TimeSpan.FromMilliseconds(1))
                        {
                            await Task.Delay(phase, cancellation).ConfigureAwait(false);
                        }
                    }

                    var device = devices[d];
                    // The time it is sent, so a reading's age at its alert is what a device would see.
                    var timestamp = device.NextTimestamp(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
                    var message = generator.Next(device.Name, round, timestamp);
                    if (message.Anomalous)
                    {
                        var entry = new GroundTruthEntry($"{device.Site}/{device.Name}/{message.AnomalousMetric}", timestamp);
                        anomalies.Add(entry);
                        onAnomaly?.Invoke(entry);
                    }

                    var connection = options.PerDeviceConnections ? connections[d] : connections[0];
                    await connection.PublishAsync(
                        $"sensors/{device.Site}/{device.Name}/{generator.TopicSuffix}",
                        Encoding.UTF8.GetBytes(message.Payload),
                        options.Qos,
                        cancellation).ConfigureAwait(false);
                }

                round++;
            }
        }
        catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
        {
        }
        finally
        {
            foreach (var connection in connections)
            {
                // Until every QoS 1 publish is acknowledged, unless stopped.
                await connection.CloseAsync(cancellation).ConfigureAwait(false);
                published += connection.Published;
                failed += connection.Failed;
            }
        }

        return new SimulationResult(published, failed, anomalies, stopwatch.Elapsed, connections.Sum(c => c.Resent), connections.Sum(c => c.Reconnects));
    }

    private async Task<PublisherConnection[]> ConnectAsync(Device[] devices, CancellationToken cancellation)
    {
        var names = options.PerDeviceConnections ? devices.Select(d => d.Name).ToArray() : [$"simulator-{options.Seed}"];
        var connections = new PublisherConnection[names.Length];
        for (var i = 0; i < names.Length; i++)
        {
            var username = options.PerDeviceConnections ? names[i] : options.Username;
            connections[i] = new PublisherConnection(
                new PublisherEndpoint(options.Host, options.Port, $"{names[i]}-{Environment.ProcessId}", username, options.Password, options.Tls, options.AllowUntrustedCertificates),
                options.MaxInFlight,
                _log);
            await connections[i].ConnectAsync(cancellation).ConfigureAwait(false);
        }

        return connections;
    }

    private sealed class Device(string site, string name)
    {
        private long _last = long.MinValue;

        public string Site { get; } = site;
        public string Name { get; } = name;

        public long NextTimestamp(long now)
        {
            _last = Math.Max(now, _last == long.MinValue ? now : _last + 1);
            return _last;
        }
    }
}
