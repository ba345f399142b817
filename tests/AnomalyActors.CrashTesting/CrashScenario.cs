using System.Diagnostics;
using AnomalyActors.Archive;
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
    TimeSpan Timeout = default,
    bool Archive = false)
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
    bool TimedOut,
    ArchiveAudit? Archive = null)
{
    public bool Exact => !TimedOut && Failed == 0 && ScoredTwice == 0 && Lost == 0 && AnomaliesUnderTwoIds == 0 && ClosedBeforeOpened == 0
        && (Archive is null || Archive.Exact);

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
        ["archive"] = Archive,
        ["exact"] = Exact,
    });
}

/// <summary>What the archive holds after the kills, against what the sensors scored and alerted.</summary>
/// <param name="Rows">Enriched rows in visible files.</param>
/// <param name="Missing">Readings published (and scored) without an enriched row.</param>
/// <param name="Duplicates">Enriched rows beyond one per stream and offset.</param>
/// <param name="AlertsMissing">Alert transitions of the alerts file without a row in the alerts dataset.</param>
/// <param name="AlertDuplicates">Rows of the alerts dataset beyond one per alert id and type.</param>
/// <param name="Files">Visible Parquet files (all of them readable, or the query fails).</param>
/// <param name="HiddenLeft">Files still being written after the last node stopped (should be none).</param>
/// <param name="Streams">Distinct streams with enriched rows.</param>
public sealed record ArchiveAudit(long Rows, long Missing, long Duplicates, long AlertsMissing, long AlertDuplicates, long Files, long HiddenLeft, long Streams)
{
    public bool Exact => Missing == 0 && Duplicates == 0 && AlertsMissing == 0 && AlertDuplicates == 0 && HiddenLeft == 0;

    /// <summary>Reads an archive root with DuckDB, as users query it.</summary>
    /// <param name="expectedReadings">Readings that were scored: each should have exactly one enriched row.</param>
    /// <param name="expectedAlerts">Distinct alert transitions (alert id and open/close) the sink wrote.</param>
    public static async Task<ArchiveAudit> ReadAsync(string root, long expectedReadings, long expectedAlerts)
    {
        using var query = ArchiveQuery.Open(root, ["enriched", "alerts"]);
        async Task<long> Scalar(string sql) => Convert.ToInt64((await query.RunAsync(sql, TimeSpan.FromMinutes(2))).Rows[0][0], CultureInfo.InvariantCulture);
        var rows = await Scalar("SELECT count(*) FROM enriched");
        var distinct = await Scalar("SELECT count(*) FROM (SELECT DISTINCT site, device, metric, \"offset\" FROM enriched)");
        var streams = await Scalar("SELECT count(DISTINCT (site, device, metric)) FROM enriched");
        var alertRows = await Scalar("SELECT count(*) FROM alerts");
        var alertDistinct = await Scalar("SELECT count(*) FROM (SELECT DISTINCT alert_id, type FROM alerts)");
        var files = Directory.EnumerateFiles(root, "*" + ArchiveLayout.Extension, SearchOption.AllDirectories).Count();
        var hidden = Directory.EnumerateFiles(root, ".*", SearchOption.AllDirectories).Count();
        return new ArchiveAudit(rows, Math.Max(0, expectedReadings - distinct), rows - distinct,
            Math.Max(0, expectedAlerts - alertDistinct), alertRows - alertDistinct, files, hidden, streams);
    }

    /// <summary>What is not exact, for an assertion message; empty when <see cref="Exact"/>.</summary>
    public IReadOnlyList<string> Problems() =>
    [
        .. Missing > 0 ? [$"{Missing} readings without an enriched row"] : Array.Empty<string>(),
        .. Duplicates > 0 ? [$"{Duplicates} enriched rows twice"] : Array.Empty<string>(),
        .. AlertsMissing > 0 ? [$"{AlertsMissing} alerts missing"] : Array.Empty<string>(),
        .. AlertDuplicates > 0 ? [$"{AlertDuplicates} alert rows twice"] : Array.Empty<string>(),
        .. HiddenLeft > 0 ? [$"{HiddenLeft} hidden files left"] : Array.Empty<string>(),
    ];
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
        var archiveRoot = Path.Combine(work, "archive");
        var hoconDirectory = ShippedConfiguration.CopyTo(Path.Combine(work, "hocon"),
        [
            .. options.Broker == "embedded" ? Array.Empty<string>() : ["anomaly-actors.mqtt.broker.embedded = off"],
            // Small rolls several times a second, so the kills land in the middle of files being
            // written and renamed.
            .. options.Archive
                ? new[]
                {
                    "anomaly-actors.archive.enabled = on",
                    $"anomaly-actors.archive.root = \"{archiveRoot}\"",
                    "anomaly-actors.archive.roll-age = 200ms",
                    "anomaly-actors.archive.roll-size-mb = 1",
                    "anomaly-actors.archive.row-group-rows = 4096",
                    "anomaly-actors.archive.idle-poll = 20ms",
                }
                : [],
        ]);
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
            var archive = options.Archive ? await AuditArchiveAsync(archiveRoot, published: result.Published, options, alerts) : null;
            return new CrashReport(
                options, result.Published, scored, twice, lost, alerts.UnderTwoIds, alerts.ClosedBeforeOpened, alerts.Opens,
                kills, result.Resent, result.Reconnects, result.Failed, clock.Elapsed, timedOut, archive);
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

    /// <summary>Reads the archive back: one enriched row per stream and offset for every published reading, every alert once.</summary>
    private static async Task<ArchiveAudit> AuditArchiveAsync(string root, long published, CrashOptions options, AlertAudit alerts)
    {
        var audit = await ArchiveAudit.ReadAsync(root, expectedReadings: published * (options.Kind == DeviceKind.Fan ? 2 : 1), alerts.Transitions);
        var streams = options.Devices * (options.Kind == DeviceKind.Fan ? 2 : 1);
        return audit.Streams == streams ? audit : throw new InvalidOperationException($"the archive has {audit.Streams} streams, expected {streams}");
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
            "anomaly-actors.web.port = 0",
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
    /// <param name="Transitions">Distinct alert ids and types (an open and a close of one episode are two).</param>
    private sealed record AlertAudit(int Opens, int UnderTwoIds, int ClosedBeforeOpened, int Transitions)
    {
        public static AlertAudit Read(string path)
        {
            if (!File.Exists(path))
            {
                return new AlertAudit(0, 0, 0, 0);
            }

            var transitions = new HashSet<string>(StringComparer.Ordinal);
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
                transitions.Add(id + " " + root.GetProperty("type").GetString());
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

            return new AlertAudit(opens, idsByReading.Values.Count(ids => ids.Count > 1), closedBeforeOpened, transitions.Count);
        }
    }
}
