using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Akka.Configuration;
using AnomalyActors.Benchmarks.Common;
using AnomalyActors.Benchmarks.Nab;
using AnomalyActors.Host;
using AnomalyActors.Mqtt;
using AnomalyActors.Mqtt.Simulation;
using AnomalyActors.Node;
using AnomalyActors.Node.Hosting;
using AnomalyActors.Testing;
using MQTTnet;
using MQTTnet.Protocol;

namespace AnomalyActors.Benchmarks.Mqtt;

/// <summary>
/// <c>mqtt --broker embedded|mosquitto --qos 0|1 [--readings N] [--devices N] [--persistence sqlite|none]
/// [--in-flight N] [--stall-timeout SECONDS] [--max-warm-up SECONDS] [--hocon TEXT] [--timeline]</c>. Measures, in one
/// run and on one broker, the same seeded item-4 messages sent by the same pipelined publisher to (1) a
/// raw MQTTnet subscriber that only counts and (2) a node (AnomalyHost: MQTT subscriber stage, durable
/// intake, SensorActors) until every reading was scored. Exits with 1 when a QoS 1 run lost anything.
/// </summary>
internal static class MqttHarness
{
    private const string TopicFilter = "sensors/#";
    private const string Site = "site-1";

    // The subscriber account the node's configuration adds to the embedded broker as a service account;
    // mosquitto here allows anonymous clients and ignores it.
    private const string Username = "anomaly-actors";
    private const string Password = "anomaly-actors";

    public static int Run(string[] argv)
    {
        var args = new HarnessArgs(argv);
        var broker = args.Get("broker") ?? "embedded";
        var qosNumber = args.GetInt("qos") ?? 1;
        var readings = args.GetInt("readings") ?? 100_000;
        var devices = args.GetInt("devices") ?? 100;
        var persistence = args.Get("persistence") ?? "sqlite";
        var inFlight = args.GetInt("in-flight") ?? 200;
        var stallSeconds = args.GetInt("stall-timeout") ?? 30;
        var warmUpSeconds = args.GetInt("max-warm-up") ?? 60;
        // Extra node configuration for experiments, e.g. --hocon "anomaly-actors.intake.partitions = 2".
        var hocon = args.Get("hocon") ?? string.Empty;
        // Progress of the node part every 100 ms on stderr, to see where a slow run waits.
        var timeline = args.Get("timeline") is not null;
        if (broker is not ("embedded" or "mosquitto"))
        {
            Console.Error.WriteLine($"--broker must be embedded or mosquitto, not '{broker}'.");
            return 2;
        }

        if (qosNumber is not (0 or 1))
        {
            Console.Error.WriteLine($"--qos must be 0 or 1, not {qosNumber}.");
            return 2;
        }

        if (persistence is not ("sqlite" or "none"))
        {
            Console.Error.WriteLine($"--persistence must be sqlite or none, not '{persistence}'.");
            return 2;
        }

        if (readings < 1 || devices < 1 || inFlight < 1 || stallSeconds < 1 || warmUpSeconds < 1)
        {
            Console.Error.WriteLine("--readings, --devices, --in-flight, --stall-timeout and --max-warm-up must be positive.");
            return 2;
        }

        var options = new Options(broker, (MqttQualityOfServiceLevel)qosNumber, readings, devices, persistence, inFlight, TimeSpan.FromSeconds(stallSeconds), TimeSpan.FromSeconds(warmUpSeconds), hocon, timeline);
        return RunAsync(options).GetAwaiter().GetResult();
    }

    private sealed record Options(
        string Broker, MqttQualityOfServiceLevel Qos, int Readings, int Devices, string Persistence, int InFlight, TimeSpan StallTimeout, TimeSpan MaxWarmUp, string Hocon, bool Timeline);

    private static async Task<int> RunAsync(Options o)
    {
        var loadBefore = LoadAverage();
        Console.WriteLine($"mqtt: broker {o.Broker}, QoS {(int)o.Qos}, {o.Readings:N0} readings over {o.Devices:N0} devices, persistence {o.Persistence}, " +
                          $"{o.InFlight} publishes in flight; load average {loadBefore}");
        var workload = Workload.Create(o.Devices, o.Readings, seed: 42);

        var dataDirectory = ScratchDirectory.Create("anomaly-actors-bench");
        await using var brokerHandle = await BrokerHandle.StartAsync(o.Broker, dataDirectory, o.Hocon);
        Console.WriteLine($"broker: {o.Broker} on {brokerHandle.Host}:{brokerHandle.Port}");
        try
        {
            var raw = await RunRawAsync(o, brokerHandle, workload);
            Console.WriteLine($"raw MQTTnet loop:  {raw.Received:N0} of {o.Readings:N0} received in {raw.Elapsed.TotalSeconds:0.000} s = {raw.PerSecond,10:N0} msg/s " +
                              $"(publisher done after {raw.PublishElapsed.TotalSeconds:0.000} s, {raw.Lost:N0} lost; process CPU {raw.CpuMicrosPerMessage:0.0} us/message, {raw.SwitchesPerMessage:0.00} context switches/message)");

            var node = await RunNodeAsync(o, brokerHandle, workload, dataDirectory);
            Console.WriteLine($"node over MQTT:    {node.Received:N0} of {o.Readings:N0} scored in {node.Elapsed.TotalSeconds:0.000} s = {node.PerSecond,10:N0} readings/s " +
                              $"(publisher done after {node.PublishElapsed.TotalSeconds:0.000} s, {node.Lost:N0} lost; process CPU {node.CpuMicrosPerMessage:0.0} us/message, {node.SwitchesPerMessage:0.00} context switches/message; {node.Detail}; {brokerHandle.HeldPublishes:N0} publishes held by the broker)");

            var ratio = raw.PerSecond > 0 ? node.PerSecond / raw.PerSecond : 0;
            var loadAfter = LoadAverage();
            Console.WriteLine($"ratio node / raw:  {ratio:0.000}; load average {loadAfter}");
            var result = new Dictionary<string, object?>
            {
                ["mqtt_readings_per_s"] = Math.Round(node.PerSecond),
                ["raw_mqtt_per_s"] = Math.Round(raw.PerSecond),
                ["ratio_to_raw"] = Math.Round(ratio, 4),
                ["lost"] = node.Lost,
                ["raw_lost"] = raw.Lost,
                ["broker"] = o.Broker,
                ["qos"] = (int)o.Qos,
                ["readings"] = o.Readings,
                ["devices"] = o.Devices,
                ["persistence"] = o.Persistence,
                ["in_flight"] = o.InFlight,
                ["hocon"] = string.IsNullOrWhiteSpace(o.Hocon) ? null : o.Hocon,
                ["held_publishes"] = brokerHandle.HeldPublishes,
                ["mqtt_seconds"] = Math.Round(node.Elapsed.TotalSeconds, 3),
                ["raw_seconds"] = Math.Round(raw.Elapsed.TotalSeconds, 3),
                ["mqtt_cpu_us_per_reading"] = Math.Round(node.CpuMicrosPerMessage, 1),
                ["raw_cpu_us_per_msg"] = Math.Round(raw.CpuMicrosPerMessage, 1),
                ["mqtt_switches_per_reading"] = node.SwitchesPerMessage,
                ["raw_switches_per_msg"] = raw.SwitchesPerMessage,
                ["load_average_before"] = loadBefore,
                ["load_average_after"] = loadAfter,
                ["peak_working_set_mb"] = Math.Round(Process.GetCurrentProcess().PeakWorkingSet64 / 1048576.0, 1),
            };
            Console.WriteLine(JsonSerializer.Serialize(result));
            return o.Qos == MqttQualityOfServiceLevel.AtLeastOnce && (node.Lost != 0 || raw.Lost != 0) ? 1 : 0;
        }
        finally
        {
            ScratchDirectory.DeleteQuietly(dataDirectory);
        }
    }

    /// <param name="Received">Raw phase: messages the counting subscriber got; node phase: readings scored.</param>
    /// <param name="Cpu">This process's CPU time over the timed part (publisher, subscriber or node, embedded broker).</param>
    private sealed record PhaseResult(long Published, long Received, TimeSpan Elapsed, TimeSpan PublishElapsed, TimeSpan Cpu, double SwitchesPerMessage, string Detail = "")
    {
        public double CpuMicrosPerMessage => Cpu.TotalMicroseconds / Published;

        public long Lost => Published - Received;

        /// <summary>Messages published over the time from the first publish to the last arrival (the issue's definition).</summary>
        public double PerSecond => Received > 0 && Elapsed > TimeSpan.Zero ? Published / Elapsed.TotalSeconds : 0;
    }

    /// <summary>Publisher and a subscriber that only counts: what the broker and MQTTnet manage on this machine.</summary>
    private static async Task<PhaseResult> RunRawAsync(Options o, BrokerHandle broker, Workload workload)
    {
        var counter = new ReceiveCounter();
        using var subscriber = new MqttClientFactory().CreateMqttClient();
        subscriber.ApplicationMessageReceivedAsync += counter.OnReceivedAsync;
        // The node's subscriber socket settings, so the two parts differ only in what happens after a message arrives.
        var socketBuffer = NodeMqttSettings(Path.GetTempPath(), o.Hocon).Subscriber.SocketBufferBytes;
        var connect = await subscriber.ConnectAsync(ClientOptions(broker, "bench-raw-" + ShortId(), cleanStart: true).WithSocketBuffers(socketBuffer));
        if (connect.ResultCode != MqttClientConnectResultCode.Success)
        {
            throw new InvalidOperationException($"raw subscriber refused: {connect.ResultCode} {connect.ReasonString}");
        }

        await subscriber.SubscribeAsync(new MqttClientSubscribeOptionsBuilder()
            .WithTopicFilter(f => f.WithTopic(TopicFilter).WithQualityOfServiceLevel(o.Qos))
            .Build());

        await using var publisher = await Publisher.ConnectAsync(broker, o.Qos, o.InFlight);

        var warm = await WarmUpAsync(publisher, workload.NewWarmUp(), () => counter.Count, o.MaxWarmUp);
        Console.WriteLine($"  raw warm-up (untimed): {warm}");

        var baseline = counter.Count;
        var target = baseline + workload.Messages.Length;
        counter.Arm(target);
        var switchesBefore = ContextSwitches.Read();
        var cpuBefore = CpuTime();
        var start = Stopwatch.GetTimestamp();
        await publisher.PublishAllAsync(workload.Messages);
        var publishElapsed = Stopwatch.GetElapsedTime(start);
        var done = await WaitAsync(() => counter.Count, target, o.StallTimeout);
        var cpu = CpuTime() - cpuBefore;
        var switches = ContextSwitches.PerMessage(switchesBefore, ContextSwitches.Read(), workload.Messages.Length);
        var received = done.Value - baseline;
        var elapsed = Stopwatch.GetElapsedTime(start, counter.LastReceiveTimestamp);
        await subscriber.DisconnectAsync();
        return new PhaseResult(workload.Messages.Length, received, elapsed, publishElapsed, cpu, switches);
    }

    /// <summary>The same publisher and messages into a node: durable intake (unless --persistence none) and scoring.</summary>
    private static async Task<PhaseResult> RunNodeAsync(Options o, BrokerHandle broker, Workload workload, string dataDirectory)
    {
        var overrides = ConfigurationFactory.ParseString($$"""
            anomaly-actors {
              data-dir = "{{dataDirectory.Replace("\\", "/", StringComparison.Ordinal)}}"
              persistence.provider = {{o.Persistence}}
              alerts.console = off
              mqtt {
                broker.embedded = off
                subscriber {
                  host = "{{broker.Host}}"
                  port = {{broker.Port}}
                  # A fresh session per run: nothing left over from an earlier run is delivered.
                  client-id = "anomaly-actors-bench-{{ShortId()}}"
                  qos = {{(int)o.Qos}}
                }
              }
            }
            akka.loglevel = WARNING
            """);
        if (!string.IsNullOrWhiteSpace(o.Hocon))
        {
            overrides = ConfigurationFactory.ParseString(o.Hocon).WithFallback(overrides);
        }

        var host = await AnomalyHost.StartAsync(overrides, systemName: "bench-mqtt");
        try
        {
            var metrics = host.Node.Metrics;
            await using var publisher = await Publisher.ConnectAsync(broker, o.Qos, o.InFlight);

            // Untimed: the first warm-up round creates and recovers every SensorActor, so the timed part
            // measures sustained ingestion, not a fleet's cold start (as the throughput harness does).
            var warm = await WarmUpAsync(publisher, workload.NewWarmUp(), () => Math.Min(metrics.ReadingsScored, host.MqttIngestion!.Counters.Acknowledged), o.MaxWarmUp);
            Console.WriteLine($"  node warm-up (untimed): {warm}");

            var baseline = metrics.ReadingsScored;
            var target = baseline + workload.Messages.Length;
            var ingestion = host.MqttIngestion!;
            var ackedBefore = ingestion.Counters.Acknowledged;
            var switchesBefore = ContextSwitches.Read();
            var cpuBefore = CpuTime();
            var start = Stopwatch.GetTimestamp();
            using var timelineStop = new CancellationTokenSource();
            var timeline = o.Timeline ? PrintTimelineAsync(start, publisher, ingestion, metrics, broker, timelineStop.Token) : Task.CompletedTask;
            await publisher.PublishAllAsync(workload.Messages);
            var publishElapsed = Stopwatch.GetElapsedTime(start);
            var done = await WaitAsync(() => metrics.ReadingsScored, target, o.StallTimeout);
            await timelineStop.CancelAsync();
            await timeline;
            var cpu = CpuTime() - cpuBefore;
            var switches = ContextSwitches.PerMessage(switchesBefore, ContextSwitches.Read(), workload.Messages.Length);
            var scored = done.Value - baseline;
            var elapsed = Stopwatch.GetElapsedTime(start, done.LastProgressTimestamp);

            // Untimed: scoring may finish before the last PUBACKs are out; a clean stop wants them sent.
            var ackTarget = ackedBefore + workload.Messages.Length;
            await WaitAsync(() => ingestion.Counters.Acknowledged, ackTarget, TimeSpan.FromSeconds(5));
            var detail = string.Create(CultureInfo.InvariantCulture,
                $"{ingestion.Counters.Acknowledged - ackedBefore:N0} acknowledged, {metrics.ChunksStored:N0} chunks, {metrics.EpisodesOpened:N0} episodes, {ingestion.Counters.DeadLetters:N0} dead letters");
            return new PhaseResult(workload.Messages.Length, scored, elapsed, publishElapsed, cpu, switches, detail);
        }
        finally
        {
            await host.StopAsync();
        }
    }

    /// <summary>
    /// One line per 100 ms: publishes completed, messages the subscriber took from the broker,
    /// readings durable, messages acknowledged, readings scored, the embedded broker's largest
    /// subscriber backlog and the process's CPU time, each since the start of the timed part.
    /// </summary>
    private static async Task PrintTimelineAsync(long start, Publisher publisher, MqttIngestion ingestion, NodeMetrics metrics, BrokerHandle broker, CancellationToken stop)
    {
        var published = publisher.Completed;
        var received = ingestion.Subscriber.Received;
        var durable = ingestion.Counters.Readings;
        var acknowledged = ingestion.Counters.Acknowledged;
        var scored = metrics.ReadingsScored;
        var cpu = CpuTime();
        Console.Error.WriteLine("timeline: ms published received durable acknowledged scored broker_backlog cpu_ms");
        while (!stop.IsCancellationRequested)
        {
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"timeline: {Stopwatch.GetElapsedTime(start).TotalMilliseconds:0} {publisher.Completed - published} {ingestion.Subscriber.Received - received} {ingestion.Counters.Readings - durable} {ingestion.Counters.Acknowledged - acknowledged} {metrics.ReadingsScored - scored} {broker.SubscriberBacklog} {(CpuTime() - cpu).TotalMilliseconds:0}"));
            try
            {
                await Task.Delay(100, stop);
            }
            catch (OperationCanceledException)
            {
            }
        }
    }

    private readonly record struct WaitResult(long Value, long LastProgressTimestamp);

    /// <summary>
    /// Untimed rounds until the JIT has settled: tiered compilation re-compiles hot methods in the
    /// background after they ran a while, and a timed part that starts earlier pays for that (measured:
    /// 28% of the node phase's CPU samples on the tiering thread after a single 5,000-message warm-up).
    /// Each step publishes rounds over every device and waits until <paramref name="processed"/> caught up.
    /// </summary>
    private static async Task<string> WarmUpAsync(Publisher publisher, WarmUpSource source, Func<long> processed, TimeSpan maxTime)
    {
        var start = Stopwatch.GetTimestamp();
        long sent = 0;
        var steps = 0;
        var lastCompiled = 0L;
        while (true)
        {
            var before = System.Runtime.JitInfo.GetCompiledMethodCount();
            var step = source.NextStep();
            await publisher.PublishAllAsync(step);
            sent += step.Length;
            await WaitAsync(processed, sent, TimeSpan.FromSeconds(3));
            steps++;
            // The tiering thread waits for 100 ms without new tier-0 activity before it promotes methods.
            await Task.Delay(250);
            lastCompiled = System.Runtime.JitInfo.GetCompiledMethodCount() - before;
            if ((steps >= 3 && lastCompiled <= 10) || Stopwatch.GetElapsedTime(start) > maxTime)
            {
                break;
            }
        }

        return string.Create(CultureInfo.InvariantCulture,
            $"{processed():N0} of {sent:N0} processed in {steps} steps, {Stopwatch.GetElapsedTime(start).TotalSeconds:0.0} s; {lastCompiled} methods compiled during the last step");
    }

    /// <summary>
    /// Polls until the counter reaches the target or stops moving for <paramref name="stall"/> (a
    /// lost QoS 0 message never arrives); returns the value and when it last went up.
    /// </summary>
    private static async Task<WaitResult> WaitAsync(Func<long> counter, long target, TimeSpan stall)
    {
        var value = counter();
        var lastProgress = Stopwatch.GetTimestamp();
        while (value < target)
        {
            await Task.Delay(1);
            var now = counter();
            if (now != value)
            {
                value = now;
                lastProgress = Stopwatch.GetTimestamp();
            }
            else if (Stopwatch.GetElapsedTime(lastProgress) > stall)
            {
                break;
            }
        }

        return new WaitResult(value, lastProgress);
    }

    /// <summary>The node's MQTT settings: <paramref name="overrides"/> over --hocon over hocon/anomaly-actors.conf.</summary>
    private static MqttSettings NodeMqttSettings(string dataDirectory, string hocon, string overrides = "")
    {
        var config = ConfigurationFactory.ParseString(overrides);
        if (!string.IsNullOrWhiteSpace(hocon))
        {
            config = config.WithFallback(ConfigurationFactory.ParseString(hocon));
        }

        var (root, source) = NodeConfig.Load(config);
        return MqttSettings.FromConfig(root, dataDirectory, source);
    }

    private static MqttClientOptions ClientOptions(BrokerHandle broker, string clientId, bool cleanStart) =>
        new MqttClientOptionsBuilder()
            .WithTcpServer(broker.Host, broker.Port)
            .WithClientId(clientId)
            .WithCredentials(Username, Password)
            .WithProtocolVersion(MQTTnet.Formatter.MqttProtocolVersion.V500)
            .WithCleanStart(cleanStart)
            .WithTimeout(TimeSpan.FromSeconds(10))
            .Build();

    private static TimeSpan CpuTime()
    {
        using var self = Process.GetCurrentProcess();
        return self.TotalProcessorTime;
    }

    private static string ShortId() => Guid.NewGuid().ToString("N")[..8];

    private static string LoadAverage()
    {
        try
        {
            var parts = File.ReadAllText("/proc/loadavg").Split(' ');
            return string.Join(' ', parts.Take(3));
        }
        catch (IOException)
        {
            return "n/a";
        }
    }

    /// <summary>Counts deliveries and remembers when the last expected one arrived; acknowledges automatically.</summary>
    private sealed class ReceiveCounter
    {
        private long _count;
        private long _target = long.MaxValue;

        public long Count => Interlocked.Read(ref _count);
        public long LastReceiveTimestamp { get; private set; } = Stopwatch.GetTimestamp();

        public void Arm(long target) => Interlocked.Exchange(ref _target, target);

        public Task OnReceivedAsync(MqttApplicationMessageReceivedEventArgs e)
        {
            var count = Interlocked.Increment(ref _count);
            // Every receive moves the end mark, so with QoS 0 losses it is the last one that came.
            if (count <= Interlocked.Read(ref _target))
            {
                LastReceiveTimestamp = Stopwatch.GetTimestamp();
            }

            return Task.CompletedTask;
        }
    }

    /// <summary>One MQTTnet client with up to maxInFlight publishes outstanding, issued in order (as DeviceSimulator's connections).</summary>
    private sealed class Publisher : IAsyncDisposable
    {
        private readonly IMqttClient _client;
        private readonly MqttQualityOfServiceLevel _qos;
        private readonly int _maxInFlight;
        private readonly SemaphoreSlim _slots;
        private long _failed;
        private long _completed;

        private Publisher(IMqttClient client, MqttQualityOfServiceLevel qos, int maxInFlight)
        {
            _client = client;
            _qos = qos;
            _maxInFlight = maxInFlight;
            _slots = new SemaphoreSlim(maxInFlight, maxInFlight);
        }

        public static async Task<Publisher> ConnectAsync(BrokerHandle broker, MqttQualityOfServiceLevel qos, int maxInFlight)
        {
            var client = new MqttClientFactory().CreateMqttClient();
            var result = await client.ConnectAsync(ClientOptions(broker, "bench-pub-" + ShortId(), cleanStart: true));
            if (result.ResultCode != MqttClientConnectResultCode.Success)
            {
                client.Dispose();
                throw new InvalidOperationException($"publisher refused: {result.ResultCode} {result.ReasonString}");
            }

            return new Publisher(client, qos, maxInFlight);
        }

        /// <summary>Publishes finished (QoS 1: acknowledged by the broker) so far.</summary>
        public long Completed => Interlocked.Read(ref _completed);

        /// <summary>Publishes every message and returns once each publish completed (QoS 1: PUBACK received).</summary>
        public async Task PublishAllAsync(OutgoingMessage[] messages)
        {
            foreach (var message in messages)
            {
                await _slots.WaitAsync();
                _ = SendAsync(message);
            }

            // Holding every slot means no send is outstanding.
            for (var i = 0; i < _maxInFlight; i++)
            {
                await _slots.WaitAsync();
            }

            _slots.Release(_maxInFlight);
            if (Interlocked.Read(ref _failed) is var failed and > 0)
            {
                throw new InvalidOperationException($"{failed} publishes failed");
            }
        }

        private async Task SendAsync(OutgoingMessage message)
        {
            try
            {
                var result = await _client.PublishAsync(new MqttApplicationMessageBuilder()
                    .WithTopic(message.Topic)
                    .WithPayload(message.Payload)
                    .WithQualityOfServiceLevel(_qos)
                    .Build());
                if (!result.IsSuccess)
                {
                    Interlocked.Increment(ref _failed);
                }
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                Interlocked.Increment(ref _failed);
            }
            finally
            {
                Interlocked.Increment(ref _completed);
                _slots.Release();
            }
        }

        public async ValueTask DisposeAsync()
        {
            if (_client.IsConnected)
            {
                await _client.DisconnectAsync();
            }

            _client.Dispose();
            _slots.Dispose();
        }
    }

    private sealed record OutgoingMessage(string Topic, byte[] Payload);

    /// <summary>seeds.md item 4 payloads (DemoSensorGenerator, seeded), round-robin over the devices, one second apart per device.</summary>
    private sealed class Workload
    {
        private const long Start = 1_767_225_600_000; // 2026-01-01T00:00:00Z

        private string[] Topics { get; init; } = [];
        private string[] Names { get; init; } = [];
        private int Seed { get; init; }
        public required OutgoingMessage[] Messages { get; init; }

        public static Workload Create(int devices, int readings, int seed)
        {
            var topics = Enumerable.Range(0, devices)
                .Select(d => $"sensors/{Site}/{DeviceSimulator.DeviceName(d)}/demo")
                .ToArray();
            var names = Enumerable.Range(0, devices).Select(DeviceSimulator.DeviceName).ToArray();
            var generator = new DemoSensorGenerator(new Random(seed));
            var messages = new OutgoingMessage[readings];
            for (var i = 0; i < readings; i++)
            {
                var d = i % devices;
                var round = i / devices;
                var payload = generator.Next(names[d], round, Start + round * 1000L).Payload;
                messages[i] = new OutgoingMessage(topics[d], Encoding.UTF8.GetBytes(payload));
            }

            return new Workload { Topics = topics, Names = names, Seed = seed, Messages = messages };
        }

        /// <summary>Warm-up readings from their own seeded generator, timed a year before the measured ones.</summary>
        public WarmUpSource NewWarmUp() => new(Topics, Names, new DemoSensorGenerator(new Random(Seed + 1)), Start - 365L * 86_400_000);
    }

    /// <summary>Steps of whole rounds over every device (at least 2,000 messages a step).</summary>
    private sealed class WarmUpSource(string[] topics, string[] names, DemoSensorGenerator generator, long start)
    {
        private readonly int _roundsPerStep = Math.Max(1, (2_000 + topics.Length - 1) / topics.Length);
        private long _round;

        public OutgoingMessage[] NextStep()
        {
            var step = new OutgoingMessage[topics.Length * _roundsPerStep];
            for (var i = 0; i < step.Length; i++)
            {
                var d = i % topics.Length;
                var round = _round + i / topics.Length;
                step[i] = new OutgoingMessage(topics[d], Encoding.UTF8.GetBytes(generator.Next(names[d], round, start + round * 1000L).Payload));
            }

            _round += _roundsPerStep;
            return step;
        }
    }

    /// <summary>
    /// The broker both phases use. The embedded one is the node's own EmbeddedBroker with the settings
    /// the node's configuration gives it; the harness owns it rather than the AnomalyHost so the raw
    /// phase runs on the same broker instance before the node's subscriber (and its persistent session,
    /// which would queue every raw message too) exists.
    /// </summary>
    private sealed class BrokerHandle : IAsyncDisposable
    {
        private readonly EmbeddedBroker? _embedded;
        private readonly MosquittoBroker? _mosquitto;

        private BrokerHandle(string host, int port, EmbeddedBroker? embedded, MosquittoBroker? mosquitto)
        {
            Host = host;
            Port = port;
            _embedded = embedded;
            _mosquitto = mosquitto;
        }

        public string Host { get; }
        public int Port { get; }

        /// <summary>Publishes the embedded broker held back for the node's backlog (0 for mosquitto).</summary>
        public long HeldPublishes => _embedded?.HeldPublishes ?? 0;
        /// <summary>The embedded broker's largest subscriber backlog (0 for mosquitto).</summary>
        public long SubscriberBacklog => _embedded?.SubscriberBacklog ?? 0;

        /// <summary>The embedded broker gets the same --hocon overrides as the node (its settings are the node's).</summary>
        public static async Task<BrokerHandle> StartAsync(string kind, string dataDirectory, string hocon)
        {
            if (kind == "mosquitto")
            {
                var mosquitto = await MosquittoBroker.StartAsync();
                return new BrokerHandle(mosquitto.Host, mosquitto.Port, null, mosquitto);
            }

            var port = FreePort.Next();
            var settings = NodeMqttSettings(dataDirectory, hocon, $"anomaly-actors.mqtt.broker.port = {port.ToString(CultureInfo.InvariantCulture)}");
            var broker = await EmbeddedBroker.StartAsync(settings.Broker, message => Console.Error.WriteLine(message));
            return new BrokerHandle(settings.Broker.Host, port, broker, null);
        }

        public async ValueTask DisposeAsync()
        {
            if (_embedded is not null)
            {
                await _embedded.DisposeAsync();
            }

            if (_mosquitto is not null)
            {
                await _mosquitto.DisposeAsync();
            }
        }
    }
}
