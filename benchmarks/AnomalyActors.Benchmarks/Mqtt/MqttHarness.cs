using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Akka.Configuration;
using AnomalyActors.Benchmarks.Common;
using AnomalyActors.Benchmarks.Nab;
using AnomalyActors.Host;
using AnomalyActors.Ingestion.DeadLetters;
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
/// [--rounds N] [--in-flight N] [--stall-timeout SECONDS] [--max-warm-up SECONDS] [--hocon TEXT] [--timeline]</c>
/// (with <c>--per-device-connections</c>: <see cref="MqttFleetHarness"/>). Measures,
/// in one run and on one broker, seeded demo-sensor messages sent by the same pipelined publisher to (1) a raw
/// MQTTnet subscriber that only counts and (2) a node (AnomalyHost: MQTT subscriber stage, durable intake,
/// SensorActors) until every reading was scored, in --rounds rounds of one timed part each, alternating.
/// ratio_to_raw is the median of the rounds' ratios. Exits with 1 when a QoS 1 run lost anything.
/// </summary>
internal static class MqttHarness
{
    // The node's messages go where its default topic filter (sensors/#) and payload formats expect them;
    // the raw loop's go to a tree of their own with topics of the same shape and length.
    private const string NodeTopicRoot = "sensors";
    private const string RawTopicRoot = "sensorr";
    private const string Site = "site-1";

    // The subscriber account the node's configuration adds to the embedded broker as a service account;
    // mosquitto here allows anonymous clients and ignores it.
    private const string Username = "anomaly-actors";

    /// <summary>The run's service password, on the embedded broker and for every client of it.</summary>
    private static readonly string Password = "bench-" + Guid.NewGuid().ToString("N");

    public static int Run(string[] argv)
    {
        var args = new HarnessArgs(argv);
        if (args.Get("per-device-connections") is not null)
        {
            return MqttFleetHarness.Run(args);
        }

        var broker = args.Get("broker") ?? "embedded";
        var qosNumber = args.GetInt("qos") ?? 1;
        var readings = args.GetInt("readings") ?? 100_000;
        var rounds = args.GetInt("rounds") ?? 5;
        var devices = args.GetInt("devices") ?? 100;
        var persistence = args.Get("persistence") ?? "sqlite";
        var inFlight = args.GetInt("in-flight") ?? 2000;
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

        if (readings < 1 || rounds < 1 || devices < 1 || inFlight < 1 || stallSeconds < 1 || warmUpSeconds < 1)
        {
            Console.Error.WriteLine("--readings, --rounds, --devices, --in-flight, --stall-timeout and --max-warm-up must be positive.");
            return 2;
        }

        var options = new Options(broker, (MqttQualityOfServiceLevel)qosNumber, readings, rounds, devices, persistence, inFlight, TimeSpan.FromSeconds(stallSeconds), TimeSpan.FromSeconds(warmUpSeconds), hocon, timeline);
        return RunAsync(options).GetAwaiter().GetResult();
    }

    private sealed record Options(
        string Broker, MqttQualityOfServiceLevel Qos, int Readings, int Rounds, int Devices, string Persistence, int InFlight, TimeSpan StallTimeout, TimeSpan MaxWarmUp, string Hocon, bool Timeline);

    private static async Task<int> RunAsync(Options o)
    {
        var loadBefore = LoadAverage();
        Console.WriteLine($"mqtt: broker {o.Broker}, QoS {(int)o.Qos}, {o.Rounds} rounds of {o.Readings:N0} readings over {o.Devices:N0} devices per part, " +
                          $"persistence {o.Persistence}, {o.InFlight} publishes in flight; load average {loadBefore}");
        var nodeWorkload = Workload.Create(NodeTopicRoot, o.Devices, o.Readings * o.Rounds, seed: 42);
        var rawWorkload = Workload.Create(RawTopicRoot, o.Devices, o.Readings * o.Rounds, seed: 42);

        var dataDirectory = ScratchDirectory.Create("anomaly-actors-bench");
        await using var brokerHandle = await BrokerHandle.StartAsync(o, dataDirectory);
        Console.WriteLine($"broker: {o.Broker} on {brokerHandle.Host}:{brokerHandle.Port}");
        try
        {
            await using var publisher = await Publisher.ConnectAsync(brokerHandle, o.Qos, o.InFlight);
            await using var raw = await RawLoop.StartAsync(o, brokerHandle);
            Console.WriteLine($"  raw warm-up (untimed): {await WarmUpAsync(publisher, rawWorkload.NewWarmUp(), () => raw.Count, o.MaxWarmUp)}");

            // The embedded broker is the node's own (it ingests what it takes); mosquitto's node starts now.
            var host = brokerHandle.Node ?? await AnomalyHost.StartAsync(NodeOverrides(o, brokerHandle.Host, brokerHandle.Port, dataDirectory, embedded: false), systemName: "bench-mqtt");
            var rawParts = new List<PhaseResult>();
            var nodeParts = new List<PhaseResult>();
            try
            {
                var metrics = host.Node.Metrics;
                // Untimed: the first warm-up round creates and recovers every SensorActor, so the timed parts
                // measure sustained ingestion, not a fleet's cold start (as the throughput harness does).
                var warm = await WarmUpAsync(publisher, nodeWorkload.NewWarmUp(), () => Math.Min(metrics.ReadingsScored, host.MqttCounters!.Acknowledged), o.MaxWarmUp);
                Console.WriteLine($"  node warm-up (untimed): {warm}");

                // The two parts alternate, each round in the opposite order of the one before, so that
                // what the machine's neighbours do and what one part leaves behind (garbage, a broker
                // queue) fall on both alike; each round's ratio compares two parts seconds apart.
                for (var round = 0; round < o.Rounds; round++)
                {
                    var nodeMessages = nodeWorkload.Round(round, o.Readings);
                    var rawMessages = rawWorkload.Round(round, o.Readings);
                    if (round % 2 == 0)
                    {
                        rawParts.Add(await TimeRawAsync(o, publisher, raw, rawMessages));
                        nodeParts.Add(await TimeNodeAsync(o, publisher, host, brokerHandle, nodeMessages));
                    }
                    else
                    {
                        nodeParts.Add(await TimeNodeAsync(o, publisher, host, brokerHandle, nodeMessages));
                        rawParts.Add(await TimeRawAsync(o, publisher, raw, rawMessages));
                    }

                    var (r, n) = (rawParts[^1], nodeParts[^1]);
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"round {round + 1}: raw {r.PerSecond,8:N0} msg/s ({r.CpuMicrosPerMessage:0.0} us CPU/msg, {r.Lost:N0} lost), " +
                        $"node {n.PerSecond,8:N0} readings/s ({n.CpuMicrosPerMessage:0.0} us CPU/reading, {n.Lost:N0} lost; {n.Detail}); ratio {Ratio(n, r):0.000}"));
                }
            }
            finally
            {
                await host.StopAsync();
            }

            var ratios = nodeParts.Zip(rawParts, Ratio).ToArray();
            var rawTotal = PhaseResult.Sum(rawParts);
            var nodeTotal = PhaseResult.Sum(nodeParts);
            var loadAfter = LoadAverage();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"raw MQTTnet loop:  {rawTotal.PerSecond,10:N0} msg/s over {o.Rounds} parts ({rawTotal.Lost:N0} lost; {rawTotal.CpuMicrosPerMessage:0.0} us CPU/message, {rawTotal.SwitchesPerMessage:0.00} context switches/message)"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"node over MQTT:    {nodeTotal.PerSecond,10:N0} readings/s over {o.Rounds} parts ({nodeTotal.Lost:N0} lost; {nodeTotal.CpuMicrosPerMessage:0.0} us CPU/reading, {nodeTotal.SwitchesPerMessage:0.00} context switches/reading; {brokerHandle.HeldPublishes:N0} publishes held by the broker)"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"ratio node / raw:  median {Rounds.Median(ratios):0.000} of the rounds' {string.Join(", ", ratios.Select(x => x.ToString("0.000", CultureInfo.InvariantCulture)))}; load average {loadAfter}"));
            var result = new Dictionary<string, object?>
            {
                ["mqtt_readings_per_s"] = Math.Round(nodeTotal.PerSecond),
                ["raw_mqtt_per_s"] = Math.Round(rawTotal.PerSecond),
                ["ratio_to_raw"] = Math.Round(Rounds.Median(ratios), 4),
                ["round_ratios"] = ratios.Select(x => Math.Round(x, 4)).ToArray(),
                ["lost"] = nodeTotal.Lost,
                ["raw_lost"] = rawTotal.Lost,
                ["broker"] = o.Broker,
                ["qos"] = (int)o.Qos,
                ["rounds"] = o.Rounds,
                ["readings"] = o.Readings * o.Rounds,
                ["readings_per_round"] = o.Readings,
                ["devices"] = o.Devices,
                ["persistence"] = o.Persistence,
                ["in_flight"] = o.InFlight,
                ["hocon"] = string.IsNullOrWhiteSpace(o.Hocon) ? null : o.Hocon,
                ["held_publishes"] = brokerHandle.HeldPublishes,
                ["mqtt_seconds"] = Math.Round(nodeTotal.Elapsed.TotalSeconds, 3),
                ["raw_seconds"] = Math.Round(rawTotal.Elapsed.TotalSeconds, 3),
                ["mqtt_cpu_us_per_reading"] = Math.Round(nodeTotal.CpuMicrosPerMessage, 1),
                ["raw_cpu_us_per_msg"] = Math.Round(rawTotal.CpuMicrosPerMessage, 1),
                ["mqtt_switches_per_reading"] = nodeTotal.SwitchesPerMessage,
                ["raw_switches_per_msg"] = rawTotal.SwitchesPerMessage,
                ["load_average_before"] = loadBefore,
                ["load_average_after"] = loadAfter,
                ["peak_working_set_mb"] = Math.Round(Process.GetCurrentProcess().PeakWorkingSet64 / 1048576.0, 1),
            };
            Console.WriteLine(JsonSerializer.Serialize(result));
            return o.Qos == MqttQualityOfServiceLevel.AtLeastOnce && (nodeTotal.Lost != 0 || rawTotal.Lost != 0) ? 1 : 0;
        }
        finally
        {
            ScratchDirectory.DeleteQuietly(dataDirectory);
        }
    }

    private static double Ratio(PhaseResult node, PhaseResult raw) => raw.PerSecond > 0 ? node.PerSecond / raw.PerSecond : 0;

    /// <param name="Received">Raw part: messages the counting subscriber got; node part: readings scored.</param>
    /// <param name="Cpu">This process's CPU time over the timed part (publisher, subscriber or node, embedded broker).</param>
    /// <param name="Switches">The process's context switches over the timed part.</param>
    private sealed record PhaseResult(long Published, long Received, TimeSpan Elapsed, TimeSpan PublishElapsed, TimeSpan Cpu, long? Switches, string Detail = "")
    {
        public double CpuMicrosPerMessage => Cpu.TotalMicroseconds / Published;

        public double SwitchesPerMessage => ContextSwitches.PerMessage(0, Switches, Published);

        public long Lost => Published - Received;

        /// <summary>Messages published over the time from the first publish to the last arrival (the issue's definition).</summary>
        public double PerSecond => Received > 0 && Elapsed > TimeSpan.Zero ? Published / Elapsed.TotalSeconds : 0;

        public static PhaseResult Sum(IReadOnlyList<PhaseResult> parts) => new(
            parts.Sum(p => p.Published),
            parts.Sum(p => p.Received),
            TimeSpan.FromTicks(parts.Sum(p => p.Elapsed.Ticks)),
            TimeSpan.FromTicks(parts.Sum(p => p.PublishElapsed.Ticks)),
            TimeSpan.FromTicks(parts.Sum(p => p.Cpu.Ticks)),
            parts.All(p => p.Switches is not null) ? parts.Sum(p => p.Switches!.Value) : null);
    }

    /// <summary>
    /// A raw MQTTnet subscriber that only counts: what the broker and MQTTnet manage on this machine. It
    /// subscribes to its own topic tree, which the node's filter does not match, so both can stay
    /// connected to the same broker for the whole run and their parts can alternate.
    /// </summary>
    private sealed class RawLoop : IAsyncDisposable
    {
        private readonly IMqttClient _subscriber;
        private readonly ReceiveCounter _counter;

        private RawLoop(IMqttClient subscriber, ReceiveCounter counter)
        {
            _subscriber = subscriber;
            _counter = counter;
        }

        public long Count => _counter.Count;
        public ReceiveCounter Counter => _counter;

        public static async Task<RawLoop> StartAsync(Options o, BrokerHandle broker)
        {
            var counter = new ReceiveCounter();
            var subscriber = new MqttClientFactory().CreateMqttClient();
            subscriber.ApplicationMessageReceivedAsync += counter.OnReceivedAsync;
            // The node's subscriber socket settings, so the two parts differ only in what happens after a message arrives.
            var socketBuffer = NodeMqttSettings(Path.GetTempPath(), o.Hocon).Subscriber.SocketBufferBytes;
            var connect = await subscriber.ConnectAsync(ClientOptions(broker, "bench-raw-" + ShortId(), cleanStart: true).WithSocketBuffers(socketBuffer));
            if (connect.ResultCode != MqttClientConnectResultCode.Success)
            {
                subscriber.Dispose();
                throw new InvalidOperationException($"raw subscriber refused: {connect.ResultCode} {connect.ReasonString}");
            }

            await subscriber.SubscribeAsync(new MqttClientSubscribeOptionsBuilder()
                .WithTopicFilter(f => f.WithTopic(RawTopicRoot + "/#").WithQualityOfServiceLevel(o.Qos))
                .Build());
            return new RawLoop(subscriber, counter);
        }

        public async ValueTask DisposeAsync()
        {
            if (_subscriber.IsConnected)
            {
                await _subscriber.DisconnectAsync();
            }

            _subscriber.Dispose();
        }
    }

    private static async Task<PhaseResult> TimeRawAsync(Options o, Publisher publisher, RawLoop raw, OutgoingMessage[] messages)
    {
        var counter = raw.Counter;
        var baseline = counter.Count;
        var target = baseline + messages.Length;
        counter.Arm(target);
        var switchesBefore = ContextSwitches.Read();
        var cpuBefore = CpuTime();
        var start = Stopwatch.GetTimestamp();
        await publisher.PublishAllAsync(messages);
        var publishElapsed = Stopwatch.GetElapsedTime(start);
        var done = await WaitAsync(() => counter.Count, target, o.StallTimeout);
        var cpu = CpuTime() - cpuBefore;
        var switches = ContextSwitches.Read() - switchesBefore;
        var elapsed = Stopwatch.GetElapsedTime(start, counter.LastReceiveTimestamp);
        // QoS 0 losses: the counter must not carry them into the next raw part as early arrivals.
        counter.Arm(long.MaxValue);
        return new PhaseResult(messages.Length, done.Value - baseline, elapsed, publishElapsed, cpu, switches);
    }

    /// <summary>The same publisher and messages into a node: durable intake (unless --persistence none) and scoring.</summary>
    private static async Task<PhaseResult> TimeNodeAsync(Options o, Publisher publisher, AnomalyHost host, BrokerHandle broker, OutgoingMessage[] messages)
    {
        var metrics = host.Node.Metrics;
        var ingestion = host.MqttCounters!;
        var baseline = metrics.ReadingsScored;
        var target = baseline + messages.Length;
        var ackedBefore = ingestion.Acknowledged;
        var chunksBefore = metrics.ChunksStored;
        var switchesBefore = ContextSwitches.Read();
        var cpuBefore = CpuTime();
        var start = Stopwatch.GetTimestamp();
        using var timelineStop = new CancellationTokenSource();
        var timeline = o.Timeline ? PrintTimelineAsync(start, publisher, ingestion, metrics, broker, timelineStop.Token) : Task.CompletedTask;
        await publisher.PublishAllAsync(messages);
        var publishElapsed = Stopwatch.GetElapsedTime(start);
        var done = await WaitAsync(() => metrics.ReadingsScored, target, o.StallTimeout);
        await timelineStop.CancelAsync();
        await timeline;
        var cpu = CpuTime() - cpuBefore;
        var switches = ContextSwitches.Read() - switchesBefore;
        var elapsed = Stopwatch.GetElapsedTime(start, done.LastProgressTimestamp);

        // Untimed: scoring may finish before the last PUBACKs are out, and the next part should not
        // start with them still pending.
        var ackTarget = ackedBefore + messages.Length;
        await WaitAsync(() => ingestion.Acknowledged, ackTarget, TimeSpan.FromSeconds(5));
        var detail = string.Create(CultureInfo.InvariantCulture,
            $"{ingestion.Acknowledged - ackedBefore:N0} acknowledged, {metrics.ChunksStored - chunksBefore:N0} chunks");
        return new PhaseResult(messages.Length, done.Value - baseline, elapsed, publishElapsed, cpu, switches, detail);
    }

    /// <param name="embedded">The node's embedded broker on <paramref name="port"/>; otherwise its subscriber to the broker there.</param>
    private static Config NodeOverrides(Options o, string host, int port, string dataDirectory, bool embedded)
    {
        var overrides = ConfigurationFactory.ParseString($$"""
            anomaly-actors {
              data-dir = "{{dataDirectory.Replace("\\", "/", StringComparison.Ordinal)}}"
              persistence.provider = {{o.Persistence}}
              alerts.console = off
              # The dashboard stays on, as users run it, on any free port.
              web.port = 0
              mqtt {
                broker.embedded = {{(embedded ? "on" : "off")}}
                broker.port = {{port}}
                subscriber {
                  host = "{{host}}"
                  port = {{port}}
                  # A fresh session per run: nothing left over from an earlier run is delivered.
                  client-id = "anomaly-actors-bench-{{ShortId()}}"
                  password = "{{Password}}"
                  qos = {{(int)o.Qos}}
                }
              }
            }
            akka.loglevel = WARNING
            """);
        return string.IsNullOrWhiteSpace(o.Hocon) ? overrides : ConfigurationFactory.ParseString(o.Hocon).WithFallback(overrides);
    }

    /// <summary>
    /// One line per 100 ms: publishes completed, messages the ingestion took, readings durable,
    /// messages acknowledged, readings scored, publishes the embedded broker held at a client's receive
    /// maximum and the process's CPU time, each since the start of the timed part.
    /// </summary>
    private static async Task PrintTimelineAsync(long start, Publisher publisher, IngestionCounters ingestion, NodeMetrics metrics, BrokerHandle broker, CancellationToken stop)
    {
        var published = publisher.Completed;
        var received = ingestion.Messages;
        var durable = ingestion.Readings;
        var acknowledged = ingestion.Acknowledged;
        var scored = metrics.ReadingsScored;
        var held = broker.HeldPublishes;
        var cpu = CpuTime();
        Console.Error.WriteLine("timeline: ms published received durable acknowledged scored held cpu_ms");
        while (!stop.IsCancellationRequested)
        {
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"timeline: {Stopwatch.GetElapsedTime(start).TotalMilliseconds:0} {publisher.Completed - published} {ingestion.Messages - received} {ingestion.Readings - durable} {ingestion.Acknowledged - acknowledged} {metrics.ReadingsScored - scored} {broker.HeldPublishes - held} {(CpuTime() - cpu).TotalMilliseconds:0}"));
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

    /// <summary>Demo-sensor payloads (DemoSensorGenerator, seeded), round-robin over the devices, one second apart per device.</summary>
    private sealed class Workload
    {
        private const long Start = 1_767_225_600_000; // 2026-01-01T00:00:00Z

        private string[] Topics { get; init; } = [];
        private string[] Names { get; init; } = [];
        private int Seed { get; init; }
        public required OutgoingMessage[] Messages { get; init; }

        /// <summary>The messages of timed part <paramref name="round"/>: consecutive slices, so each device's readings keep going forward in time.</summary>
        public OutgoingMessage[] Round(int round, int readings) => Messages.AsSpan(round * readings, readings).ToArray();

        public static Workload Create(string topicRoot, int devices, int readings, int seed)
        {
            var topics = Enumerable.Range(0, devices)
                .Select(d => $"{topicRoot}/{Site}/{DeviceSimulator.DeviceName(d)}/demo")
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
    /// The broker both phases use: mosquitto, or the node's own embedded broker, which takes what is
    /// published under the node's topic filter itself and routes the raw loop's other topics to the
    /// raw subscriber like any broker.
    /// </summary>
    private sealed class BrokerHandle : IAsyncDisposable
    {
        private readonly MosquittoBroker? _mosquitto;

        private BrokerHandle(string host, int port, AnomalyHost? node, MosquittoBroker? mosquitto)
        {
            Host = host;
            Port = port;
            Node = node;
            _mosquitto = mosquitto;
        }

        public string Host { get; }
        public int Port { get; }

        /// <summary>The node, when it runs the broker.</summary>
        public AnomalyHost? Node { get; }

        /// <summary>Publishes the embedded broker held at a client's receive maximum (0 for mosquitto).</summary>
        public long HeldPublishes => Node?.Broker?.HeldPublishes ?? 0;

        public static async Task<BrokerHandle> StartAsync(Options o, string dataDirectory)
        {
            if (o.Broker == "mosquitto")
            {
                var mosquitto = await MosquittoBroker.StartAsync();
                return new BrokerHandle(mosquitto.Host, mosquitto.Port, null, mosquitto);
            }

            var port = FreePort.Next();
            var node = await AnomalyHost.StartAsync(NodeOverrides(o, "127.0.0.1", port, dataDirectory, embedded: true), systemName: "bench-mqtt");
            return new BrokerHandle("127.0.0.1", port, node, null);
        }

        public async ValueTask DisposeAsync()
        {
            if (Node is not null)
            {
                await Node.DisposeAsync();
            }

            if (_mosquitto is not null)
            {
                await _mosquitto.DisposeAsync();
            }
        }
    }
}
