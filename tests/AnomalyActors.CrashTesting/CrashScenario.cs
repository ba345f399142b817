using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Akka.Actor;
using Akka.Configuration;
using AnomalyActors.Core.Queries;
using AnomalyActors.Host;
using AnomalyActors.Mqtt;
using AnomalyActors.Mqtt.Simulation;
using AnomalyActors.Testing;
using MQTTnet.Protocol;

namespace AnomalyActors.CrashTesting;

/// <param name="Broker">embedded (the node's own broker dies with it) or mosquitto (stays up).</param>
/// <param name="Kills">SIGKILLs of the node, spread evenly over the publishing.</param>
/// <param name="ReadingsPerDevice">Messages each device publishes, as fast as the broker takes them.</param>
public sealed record CrashOptions(
    string Broker = "mosquitto",
    int Kills = 2,
    int Devices = 20,
    long ReadingsPerDevice = 15_000,
    DeviceKind Kind = DeviceKind.Demo,
    int MaxInFlight = 2000,
    TimeSpan Timeout = default)
{
    public TimeSpan Deadline => Timeout == default ? TimeSpan.FromMinutes(10) : Timeout;
}

/// <param name="Published">Readings the devices published and the broker acknowledged.</param>
/// <param name="Scored">Readings the node's sensors scored, summed over the streams.</param>
/// <param name="ScoredTwice">Readings scored beyond what their stream published.</param>
/// <param name="Lost">Readings published but never scored.</param>
/// <param name="AnomaliesUnderTwoIds">Anomalous readings (stream, timestamp) opened under more than one alert id.</param>
/// <param name="ClosedBeforeOpened">Close records whose alert id had no open record before them.</param>
public sealed record CrashReport(
    CrashOptions Options,
    long Published,
    long Scored,
    long ScoredTwice,
    long Lost,
    int AnomaliesUnderTwoIds,
    int ClosedBeforeOpened,
    int AlertOpens,
    int Kills,
    long Resent,
    long Reconnects,
    long Failed,
    TimeSpan Elapsed,
    bool TimedOut)
{
    public bool Exact => !TimedOut && Failed == 0 && ScoredTwice == 0 && Lost == 0 && AnomaliesUnderTwoIds == 0 && ClosedBeforeOpened == 0;

    public string ToJson() => JsonSerializer.Serialize(new Dictionary<string, object?>
    {
        ["broker"] = Options.Broker,
        ["kind"] = Options.Kind.ToString().ToLowerInvariant(),
        ["devices"] = Options.Devices,
        ["readings_per_device"] = Options.ReadingsPerDevice,
        ["published"] = Published,
        ["scored"] = Scored,
        ["scored_twice"] = ScoredTwice,
        ["lost"] = Lost,
        ["anomalies_under_two_ids"] = AnomaliesUnderTwoIds,
        ["closed_before_opened"] = ClosedBeforeOpened,
        ["alert_opens"] = AlertOpens,
        ["kills"] = Kills,
        ["resent"] = Resent,
        ["reconnects"] = Reconnects,
        ["failed"] = Failed,
        ["elapsed_s"] = Math.Round(Elapsed.TotalSeconds, 1),
        ["timed_out"] = TimedOut,
        ["exact"] = Exact,
    });
}

/// <summary>
/// A node run as users run it (<c>anomaly-actors run</c>, its own process, default configuration
/// apart from the broker's place), simulated devices publishing QoS 1 as fast as they can, and
/// SIGKILLs of the node while they do, each followed by a restart on the same data directory. After
/// the devices are done a last node recovers the data directory in this process and drains what
/// the broker still holds; then every stream's scored count is compared with what its device
/// published, and the alerts file is checked for an anomaly opened under two ids.
/// </summary>
public static class CrashScenario
{
    private const string Account = "anomaly-actors";

    public static async Task<CrashReport> RunAsync(CrashOptions options, Action<string>? log = null)
    {
        log ??= _ => { };
        if (options.Broker is not ("embedded" or "mosquitto"))
        {
            throw new ArgumentException($"broker must be embedded or mosquitto, not '{options.Broker}'", nameof(options));
        }

        var clock = Stopwatch.StartNew();
        var deadline = DateTime.UtcNow + options.Deadline;
        var work = ScratchDirectory.Create("anomaly-actors-crash");
        var dataDirectory = Path.Combine(work, "data");
        // With an external broker the embedded one is switched off.
        var hoconDirectory = ShippedConfiguration.CopyTo(Path.Combine(work, "hocon"), options.Broker == "embedded" ? [] : ["anomaly-actors.mqtt.broker.embedded = off"]);
        await using var mosquitto = options.Broker == "mosquitto" ? await MosquittoBroker.StartAsync() : null;
        var port = mosquitto?.Port ?? FreePort.Next();

        var node = await NodeProcess.StartAsync(hoconDirectory, dataDirectory, port, deadline, log);
        var password = mosquitto is null ? ServicePassword.TryRead(dataDirectory) : null;
        var simulator = new DeviceSimulator(
            new SimulatorOptions(
                "127.0.0.1",
                port,
                Account,
                password,
                options.Kind,
                options.Devices,
                Sites: 1,
                RatePerDevice: 0,
                ReadingsPerDevice: options.ReadingsPerDevice,
                Qos: MqttQualityOfServiceLevel.AtLeastOnce,
                MaxInFlight: options.MaxInFlight),
            log);
        using var stopPublishing = new CancellationTokenSource(options.Deadline);
        var publishing = simulator.RunAsync(stopPublishing.Token);
        var total = options.Devices * options.ReadingsPerDevice;
        var kills = 0;
        var timedOut = false;
        try
        {
            // Kills are spread over what the node stored, not over what the devices published: an
            // external broker takes publishes much faster than the node drains them.
            var totalReadings = total * (options.Kind == DeviceKind.Fan ? 2 : 1);
            for (var k = 1; k <= options.Kills; k++)
            {
                var threshold = totalReadings * k / (options.Kills + 1);
                while (node.ReadingsStored < threshold && !node.HasExited && DateTime.UtcNow < deadline)
                {
                    await Task.Delay(5);
                }

                if (node.HasExited || DateTime.UtcNow >= deadline)
                {
                    break;
                }

                log($"crash: SIGKILL {k} at {node.ReadingsStored:N0} of {totalReadings:N0} readings stored, {simulator.PublishedSoFar:N0} of {total:N0} messages published; node's last status: {node.LastStatus}");
                await node.KillAsync();
                kills++;
                node = await NodeProcess.StartAsync(hoconDirectory, dataDirectory, port, deadline, log);
            }

            var result = await publishing.WaitAsync(Remaining(deadline));
            log($"crash: devices done: {result.Published:N0} published, {result.Failed:N0} failed, {result.Resent:N0} resent, {result.Reconnects:N0} reconnections");
            log($"crash: last node's status before it stops: {node.LastStatus}");
            await node.StopAsync();

            var (scored, twice, lost, settledInTime) = await ScoreInFinalNodeAsync(options, hoconDirectory, dataDirectory, port, result.Published, deadline, log);
            timedOut = !settledInTime;
            var alerts = AlertAudit.Read(Path.Combine(dataDirectory, "alerts.jsonl"));
            return new CrashReport(
                options, result.Published, scored, twice, lost, alerts.UnderTwoIds, alerts.ClosedBeforeOpened, alerts.Opens,
                kills, result.Resent, result.Reconnects, result.Failed, clock.Elapsed, timedOut);
        }
        catch (TimeoutException)
        {
            log($"crash: not done within {options.Deadline.TotalSeconds:0} s; node output:{Environment.NewLine}{node.Output}");
            await stopPublishing.CancelAsync();
            throw;
        }
        finally
        {
            await node.StopAsync();
            ScratchDirectory.DeleteQuietly(work);
        }
    }

    private static TimeSpan Remaining(DateTime deadline)
    {
        var left = deadline - DateTime.UtcNow;
        return left > TimeSpan.Zero ? left : TimeSpan.Zero;
    }

    /// <summary>
    /// Recovers the data directory in a node of this process, lets it take what the broker still
    /// holds, and waits until every stored reading is scored and nothing more arrives.
    /// </summary>
    private static async Task<(long Scored, long Twice, long Lost, bool Settled)> ScoreInFinalNodeAsync(
        CrashOptions options, string hoconDirectory, string dataDirectory, int port, long published, DateTime deadline, Action<string> log)
    {
        var overrides = ConfigurationFactory.ParseString(string.Join(Environment.NewLine,
            $"anomaly-actors.data-dir = \"{dataDirectory}\"",
            $"anomaly-actors.mqtt.broker.port = {port}",
            $"anomaly-actors.mqtt.subscriber.port = {port}",
            "anomaly-actors.alerts.console = off",
            "akka.loglevel = WARNING"));
        var generator = options.Kind == DeviceKind.Fan ? (IDeviceGenerator)new FanGenerator(new Random(0)) : new DemoSensorGenerator(new Random(0));
        var streams = Enumerable.Range(0, options.Devices)
            .SelectMany(d => generator.Metrics.Select(m => $"{DeviceSimulator.SiteName(0)}/{DeviceSimulator.DeviceName(d)}/{m}"))
            .ToArray();
        var expectedPerStream = published / options.Devices;

        await using var host = await AnomalyHost.StartAsync(overrides, hoconDirectory, systemName: "crash-check");
        long[] scored = [];
        var lastChange = DateTime.UtcNow;
        var last = (-1L, -1L);
        var settled = false;
        while (DateTime.UtcNow < deadline)
        {
            scored = await Task.WhenAll(streams.Select(async s =>
                (await host.Node.Sensors.Ask<SensorStateView>(new GetSensorState(s), TimeSpan.FromSeconds(30))).ReadingsScored));
            var stored = (await host.Node.TotalsAsync()).ReadingsStored;
            var now = (scored.Sum(), stored);
            if (now != last)
            {
                last = now;
                lastChange = DateTime.UtcNow;
            }

            // Everything stored is scored and nothing has changed for a while: duplicates, if any,
            // would have arrived with the broker's first deliveries to this node.
            var quietFor = DateTime.UtcNow - lastChange;
            if (now.Item1 == now.stored && (now.Item1 >= published * generator.Metrics.Count ? quietFor > TimeSpan.FromSeconds(3) : quietFor > TimeSpan.FromSeconds(20)))
            {
                settled = true;
                break;
            }

            await Task.Delay(500);
        }

        var twice = scored.Sum(s => Math.Max(0, s - expectedPerStream));
        var lost = scored.Sum(s => Math.Max(0, expectedPerStream - s));
        log(string.Create(CultureInfo.InvariantCulture,
            $"crash: final node: {scored.Sum():N0} scored over {streams.Length} streams ({expectedPerStream:N0} published each), {twice:N0} beyond, {lost:N0} missing; resent to it: {host.Node.Metrics.RedeliveredReadingsSkipped:N0} readings skipped as stored, {host.Node.Metrics.ResentReadingsStored:N0} stored as new"));
        await host.StopAsync();
        return (scored.Sum(), twice, lost, settled);
    }

    /// <summary>One <c>anomaly-actors run</c> process on the data directory.</summary>
    private sealed class NodeProcess
    {
        private readonly Process _process;
        private readonly StringBuilder _output = new();
        private static readonly System.Text.RegularExpressions.Regex StoredTotal = new(@"was created: ([\d,]+) readings stored", System.Text.RegularExpressions.RegexOptions.Compiled);
        private readonly TaskCompletionSource _up = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private long _readingsStored;

        private NodeProcess(Process process)
        {
            _process = process;
        }

        public string Output
        {
            get
            {
                lock (_output)
                {
                    return _output.ToString();
                }
            }
        }

        public static async Task<NodeProcess> StartAsync(string hoconDirectory, string dataDirectory, int port, DateTime deadline, Action<string> log)
        {
            var program = Path.Combine(AppContext.BaseDirectory, "anomaly-actors.dll");
            if (!File.Exists(program))
            {
                throw new FileNotFoundException($"{program} is missing: reference src/AnomalyActors.Cli from the project that runs the crash scenario.");
            }

            var info = new ProcessStartInfo("dotnet")
            {
                UseShellExecute = false,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            foreach (var arg in new[] { program, "run", "--config", hoconDirectory, "--data-dir", dataDirectory, "--mqtt-port", port.ToString(CultureInfo.InvariantCulture), "--status-every", "0.2" })
            {
                info.ArgumentList.Add(arg);
            }

            var node = new NodeProcess(new Process { StartInfo = info });
            node._process.OutputDataReceived += (_, e) => node.Append(e.Data);
            node._process.ErrorDataReceived += (_, e) => node.Append(e.Data);
            node._process.Start();
            node._process.BeginOutputReadLine();
            node._process.BeginErrorReadLine();
            try
            {
                await node._up.Task.WaitAsync(Remaining(deadline));
            }
            catch (TimeoutException)
            {
                throw new TimeoutException($"the node did not start; its output:{Environment.NewLine}{node.Output}");
            }

            if (node._process.HasExited)
            {
                throw new InvalidOperationException($"the node exited with {node._process.ExitCode}:{Environment.NewLine}{node.Output}");
            }

            log($"crash: node {node._process.Id} up");
            return node;
        }

        private void Append(string? line)
        {
            if (line is null)
            {
                _up.TrySetResult();
                return;
            }

            lock (_output)
            {
                _output.AppendLine(line);
            }

            if (line.StartsWith("AnomalyActors node up", StringComparison.Ordinal))
            {
                _up.TrySetResult();
            }
            else if (line.StartsWith('[') && line.Contains("readings scored", StringComparison.Ordinal))
            {
                LastStatus = line;
            }
            else if (StoredTotal.Match(line) is { Success: true } stored)
            {
                Interlocked.Exchange(ref _readingsStored, long.Parse(stored.Groups[1].Value, NumberStyles.AllowThousands, CultureInfo.InvariantCulture));
            }
        }

        /// <summary>Readings stored since the data directory was created, from the node's last status line.</summary>
        public long ReadingsStored => Interlocked.Read(ref _readingsStored);

        public bool HasExited => _process.HasExited;

        /// <summary>The node's last status line (this run's counts).</summary>
        public string LastStatus { get; private set; } = string.Empty;

        public async Task KillAsync()
        {
            _process.Kill();
            await _process.WaitForExitAsync();
        }

        /// <summary>SIGTERM, as an operator stops it; SIGKILL if it has not gone within 30 s.</summary>
        public async Task StopAsync()
        {
            if (_process.HasExited)
            {
                return;
            }

            using (var term = Process.Start("kill", ["-TERM", _process.Id.ToString(CultureInfo.InvariantCulture)]))
            {
                await term.WaitForExitAsync();
            }

            try
            {
                await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
            }
            catch (TimeoutException)
            {
                await KillAsync();
            }
        }
    }

    /// <summary>The alerts file, checked for anomalies opened under two ids and closes without an open.</summary>
    private sealed record AlertAudit(int Opens, int UnderTwoIds, int ClosedBeforeOpened)
    {
        public static AlertAudit Read(string path)
        {
            if (!File.Exists(path))
            {
                return new AlertAudit(0, 0, 0);
            }

            var idsByReading = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
            var opened = new HashSet<string>(StringComparer.Ordinal);
            var opens = 0;
            var closedBeforeOpened = 0;
            foreach (var line in File.ReadLines(path))
            {
                if (string.IsNullOrWhiteSpace(line))
                {
                    continue;
                }

                using var json = JsonDocument.Parse(line);
                var root = json.RootElement;
                var id = root.GetProperty("alertId").GetString()!;
                if (root.GetProperty("type").GetString() == "open")
                {
                    opens++;
                    opened.Add(id);
                    var reading = $"{root.GetProperty("site").GetString()}/{root.GetProperty("device").GetString()}/{root.GetProperty("metric").GetString()}@{root.GetProperty("timestamp").GetString()}";
                    if (!idsByReading.TryGetValue(reading, out var ids))
                    {
                        idsByReading[reading] = ids = new HashSet<string>(StringComparer.Ordinal);
                    }

                    ids.Add(id);
                }
                else if (!opened.Contains(id))
                {
                    closedBeforeOpened++;
                }
            }

            return new AlertAudit(opens, idsByReading.Values.Count(ids => ids.Count > 1), closedBeforeOpened);
        }
    }
}
