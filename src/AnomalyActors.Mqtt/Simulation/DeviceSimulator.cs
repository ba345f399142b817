using System.Diagnostics;
using System.Text;
using MQTTnet;
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
/// <param name="PerDeviceConnections">One connection per device with the device id as username (for brokers that confine devices to their topics); otherwise one shared connection.</param>
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
    int MaxInFlight = 200,
    bool Tls = false,
    bool AllowUntrustedCertificates = false,
    int AnomalyWarmUp = 50)
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
            .Select(i => new Device(SiteName(i % options.Sites), DeviceName(i)))
            .ToArray();
        var connections = await ConnectAsync(devices, cancellation).ConfigureAwait(false);
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

                var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
                for (var d = 0; d < devices.Length; d++)
                {
                    var device = devices[d];
                    var timestamp = device.NextTimestamp(now);
                    var message = generator.Next(device.Name, round, timestamp);
                    if (message.Anomalous)
                    {
                        var entry = new GroundTruthEntry($"{device.Site}/{device.Name}/{message.AnomalousMetric}", timestamp);
                        anomalies.Add(entry);
                        onAnomaly?.Invoke(entry);
                    }

                    var connection = options.PerDeviceConnections ? connections[d] : connections[0];
                    await connection.PublishAsync(
                        new MqttApplicationMessageBuilder()
                            .WithTopic($"sensors/{device.Site}/{device.Name}/{generator.TopicSuffix}")
                            .WithPayload(Encoding.UTF8.GetBytes(message.Payload))
                            .WithQualityOfServiceLevel(options.Qos)
                            .Build(),
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
                await connection.DisposeAsync().ConfigureAwait(false);
                published += connection.Published;
                failed += connection.Failed;
            }
        }

        return new SimulationResult(published, failed, anomalies, stopwatch.Elapsed, connections.Sum(c => c.Resent), connections.Sum(c => c.Reconnects));
    }

    private async Task<Connection[]> ConnectAsync(Device[] devices, CancellationToken cancellation)
    {
        var names = options.PerDeviceConnections ? devices.Select(d => d.Name).ToArray() : [$"simulator-{options.Seed}"];
        var connections = new Connection[names.Length];
        for (var i = 0; i < names.Length; i++)
        {
            var username = options.PerDeviceConnections ? names[i] : options.Username;
            var clientOptions = new MqttClientOptionsBuilder()
                .WithTcpServer(options.Host, options.Port)
                .WithClientId($"{names[i]}-{Environment.ProcessId}")
                .WithProtocolVersion(MQTTnet.Formatter.MqttProtocolVersion.V500)
                .WithCleanStart(true)
                .WithTimeout(TimeSpan.FromSeconds(10))
                .WithAccount(username, options.Password)
                .WithTls(options.Tls, options.AllowUntrustedCertificates)
                .Build();
            connections[i] = new Connection(new MqttClientFactory().CreateMqttClient(), clientOptions, $"{options.Host}:{options.Port} ('{username ?? "anonymous"}')", options.MaxInFlight, _log);
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

    /// <summary>
    /// A client with up to maxInFlight unacknowledged publishes, issued in order. When the broker goes
    /// away (a restart, a crash), the connection is made again with a growing pause, and every QoS 1
    /// publish that was not acknowledged is sent again: a device keeps what it could not deliver.
    /// </summary>
    private sealed class Connection(IMqttClient client, MqttClientOptions clientOptions, string broker, int maxInFlight, Action<string> log) : IAsyncDisposable
    {
        private static readonly TimeSpan FirstBackoff = TimeSpan.FromMilliseconds(200);
        private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(5);

        private readonly SemaphoreSlim _slots = new(maxInFlight, maxInFlight);
        private readonly SemaphoreSlim _connecting = new(1, 1);
        private readonly List<Task> _outstanding = [];
        private long _published;
        private long _failed;
        private long _resent;
        private long _reconnects;

        public long Published => Interlocked.Read(ref _published);
        public long Failed => Interlocked.Read(ref _failed);
        public long Resent => Interlocked.Read(ref _resent);
        public long Reconnects => Interlocked.Read(ref _reconnects);

        public async Task ConnectAsync(CancellationToken cancellation)
        {
            var result = await client.ConnectAsync(clientOptions, cancellation).ConfigureAwait(false);
            if (result.ResultCode != MqttClientConnectResultCode.Success)
            {
                throw new InvalidOperationException($"Broker {broker} refused the connection: {result.ResultCode} {result.ReasonString}");
            }
        }

        public async Task PublishAsync(MqttApplicationMessage message, CancellationToken cancellation)
        {
            await _slots.WaitAsync(cancellation).ConfigureAwait(false);
            var task = SendAsync(message, cancellation);
            if (_outstanding.Count >= 4 * maxInFlight)
            {
                _outstanding.RemoveAll(t => t.IsCompleted);
            }

            _outstanding.Add(task);
        }

        private async Task SendAsync(MqttApplicationMessage message, CancellationToken cancellation)
        {
            try
            {
                for (var attempt = 0; ; attempt++)
                {
                    try
                    {
                        if (attempt > 0)
                        {
                            await ReconnectAsync(cancellation).ConfigureAwait(false);
                            Interlocked.Increment(ref _resent);
                        }

                        var result = await client.PublishAsync(message, cancellation).ConfigureAwait(false);
                        if (result.IsSuccess)
                        {
                            Interlocked.Increment(ref _published);
                        }
                        else if (Interlocked.Increment(ref _failed) is 1 or 1000)
                        {
                            log($"Simulator: broker refused a publish to '{message.Topic}': {result.ReasonCode} {result.ReasonString}");
                        }

                        return;
                    }
                    catch (Exception) when (cancellation.IsCancellationRequested)
                    {
                        // Stopped while this publish was in flight: neither published nor a broker failure.
                        return;
                    }
                    catch (Exception e) when (e is not OutOfMemoryException)
                    {
                        if (message.QualityOfServiceLevel == MqttQualityOfServiceLevel.AtMostOnce)
                        {
                            // At most once: lost with its connection, as the device asked.
                            Interlocked.Increment(ref _failed);
                            await ReconnectAsync(cancellation).ConfigureAwait(false);
                            return;
                        }
                    }
                }
            }
            catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
            {
            }
            finally
            {
                _slots.Release();
            }
        }

        /// <summary>Makes the connection again unless another publish already did, pausing longer after each failed try.</summary>
        private async Task ReconnectAsync(CancellationToken cancellation)
        {
            await _connecting.WaitAsync(cancellation).ConfigureAwait(false);
            try
            {
                var backoff = FirstBackoff;
                while (!client.IsConnected)
                {
                    try
                    {
                        await ConnectAsync(cancellation).ConfigureAwait(false);
                        if (Interlocked.Increment(ref _reconnects) is 1 or 10 or 100 or 1000)
                        {
                            log($"Simulator: reconnected to the broker ({Reconnects} reconnections so far); sending again what was not acknowledged");
                        }
                    }
                    catch (Exception e) when (e is not OperationCanceledException)
                    {
                        log($"Simulator: broker unreachable ({e.Message}); trying again in {backoff.TotalSeconds:0.0} s");
                        await Task.Delay(backoff, cancellation).ConfigureAwait(false);
                        backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, MaxBackoff.Ticks));
                    }
                }
            }
            finally
            {
                _connecting.Release();
            }
        }

        public async ValueTask DisposeAsync()
        {
            try
            {
                await Task.WhenAll(_outstanding).ConfigureAwait(false);
                if (client.IsConnected)
                {
                    await client.DisconnectAsync().ConfigureAwait(false);
                }
            }
            finally
            {
                client.Dispose();
                _slots.Dispose();
                _connecting.Dispose();
            }
        }
    }
}
