using System.Diagnostics;
using AnomalyActors.Archive;
using AnomalyActors.Archive.Collecting;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Akka.Actor;
using Akka.Configuration;
using AnomalyActors.Core.Queries;
using AnomalyActors.Core.State;
using AnomalyActors.Host;
using AnomalyActors.Kafka.Testing;
using AnomalyActors.Testing;
using AnomalyActors.Mqtt.Simulation;
using Confluent.Kafka;
using MQTTnet.Protocol;

namespace AnomalyActors.CrashTesting;

public enum ClusterDisruption
{
    /// <summary>SIGKILL of one member (not the oldest, which hosts the shard coordinator); the others finish the stream.</summary>
    Kill,

    /// <summary>Every member in turn stopped with SIGTERM and started again, each once the cluster is whole again.</summary>
    RollingRestart,

    /// <summary>SIGKILL of one member, which is started again once the others have removed it.</summary>
    KillAndRestart,

    /// <summary>
    /// Members in network namespaces of their own (root and iproute2 needed); one is cut off from the
    /// others (still reaching PostgreSQL and Kafka): the minority downs itself and exits, the majority
    /// goes on, and after the heal the member is started again and joins as a new incarnation.
    /// </summary>
    Partition,
}

/// <summary>Where the members take the readings from.</summary>
public enum ClusterSource
{
    /// <summary>One readings topic (librdkafka's mock cluster), one consumer group.</summary>
    Kafka,

    /// <summary>mosquitto, subscribed by one member at a time (<c>subscriber.in-cluster = singleton</c>); the SIGKILL hits that member.</summary>
    MqttSingleton,

    /// <summary>mosquitto, every member in one MQTT 5 shared subscription (<c>subscriber.in-cluster = shared</c>).</summary>
    MqttShared,
}

/// <param name="Members">Member processes of the cluster run.</param>
/// <param name="ReadingsPerSensor">Readings of each sensor; the demo-sensor detector alarms after 40, so episodes happen.</param>
/// <param name="Postgres">An existing server's admin connection string; null starts a private one.</param>
/// <param name="Partitions">Partitions of the readings topic (and of the enriched topic unless <paramref name="ResultPartitions"/> says otherwise).</param>
/// <param name="DisruptAt">Share of the readings scored when the disruption starts.</param>
/// <param name="KeepLogs">A directory for every member's whole output; null keeps them only when a run fails.</param>
/// <param name="ProduceRate">
/// Readings per second at which the cluster run's readings are produced (0: as fast as the producer
/// goes). The reference run always takes them as fast as they come.
/// </param>
/// <param name="Source">Kafka, or mosquitto with one of the two ways members share it.</param>
/// <param name="ResultPartitions">
/// Partitions of the enriched topic. librdkafka's mock cluster keeps at most 5 MB of records per
/// partition and drops the oldest beyond that, as a broker's retention would: a run that archives
/// its results needs enough partitions for the topic to hold all of them, or the archive's
/// collectors may find records gone that they had not read yet. Such a run checks that it did.
/// </param>
/// <param name="RestartDelay">
/// How long a cut-off member waits after the heal before it starts again (as a supervisor's restart
/// delay would); default 10 s.
/// </param>
public sealed record ClusterOptions(
    int Members = 3,
    int Sensors = 10_000,
    int ReadingsPerSensor = 150,
    ClusterDisruption Disruption = ClusterDisruption.Kill,
    string? Postgres = null,
    int Partitions = 64,
    double DisruptAt = 0.3,
    TimeSpan Timeout = default,
    string? KeepLogs = null,
    int ProduceRate = 0,
    ClusterSource Source = ClusterSource.Kafka,
    ClusterSource? ReferenceSource = null,
    bool Archive = false,
    TimeSpan? RestartDelay = null,
    bool Notifications = false,
    int? ResultPartitions = null)
{
    /// <summary>
    /// The enriched topic's partitions: as many as asked, or as many as the readings topic. The
    /// mock cluster keeps 5 MB of each, so the watcher, reading the topic live, must not fall further
    /// behind than that; when it does, the run fails with that reason. Enough partitions to keep every
    /// record (about 275 for the default run) slowed everything on one machine: a single member scored
    /// 44,000-46,000 readings/s against 63,000-80,000 with 64 in runs of the same evening.
    /// </summary>
    public int EnrichedPartitions => ResultPartitions ?? Partitions;

    /// <summary>
    /// Where the single member of the reference run takes the same readings from: by default the
    /// cluster's source (so that the throughputs compare); Kafka is much faster where only the
    /// final states and alert ids matter, which are the same from either source.
    /// </summary>
    public ClusterSource Reference => ReferenceSource ?? Source;

    public TimeSpan Deadline => Timeout == default ? TimeSpan.FromMinutes(15) : Timeout;

    public long Readings => (long)Sensors * ReadingsPerSensor;

    public bool Mqtt => Source != ClusterSource.Kafka;

    /// <summary>
    /// Whether every stream's readings reach its sensor in the order published, so that the cluster's
    /// states can be compared with the reference's. A shared subscription spreads one stream's
    /// messages over several members, which store them in whatever order they get to them.
    /// </summary>
    public bool OrderKept => Source != ClusterSource.MqttShared;
}

/// <param name="FailoverSeconds">SIGKILL to the last sensor scoring a reading again (null without a kill).</param>
/// <param name="Lost">Readings produced that the cluster's final state has not scored.</param>
/// <param name="ScoredTwice">Readings counted in a final state beyond what was produced for the sensor.</param>
/// <param name="StateMismatches">Sensors whose state (offset, counts, detector bytes) differs from the single member's.</param>
/// <param name="AlertIdsMissing">Alert ids (with open/close) of the single member that the cluster never published.</param>
/// <param name="AlertIdsExtra">Alert ids the cluster published that the single member did not.</param>
/// <param name="AnomaliesUnderTwoIds">Anomalous readings the cluster opened under more than one alert id.</param>
public sealed record ClusterReport(
    ClusterOptions Options,
    double? FailoverSeconds,
    long Lost,
    long ScoredTwice,
    int StateMismatches,
    int AlertIdsMissing,
    int AlertIdsExtra,
    int AnomaliesUnderTwoIds,
    int AlertIds,
    double SingleRate,
    double ClusterRate,
    double ClusterRateOverall,
    long EnrichedRepeats,
    IReadOnlyList<string> Problems,
    TimeSpan Elapsed,
    ArchiveAudit? Archive = null,
    NotificationAudit? Notifications = null)
{
    /// <summary>Every reading scored once and every state the reference's; false where states cannot be compared (see <see cref="ClusterOptions.OrderKept"/>).</summary>
    public bool ExactState => Options.OrderKept && StateMismatches == 0 && Lost == 0 && ScoredTwice == 0;

    /// <summary>Exact state, or where the order cannot be kept, every reading scored once.</summary>
    public bool Passed => (Options.OrderKept ? ExactState : Lost == 0 && ScoredTwice == 0) && AlertIdsMissing == 0 && AlertIdsExtra == 0 && AnomaliesUnderTwoIds == 0 && Problems.Count == 0
        && (Archive is null || Archive.Exact) && (Notifications is null || Notifications.Exact);

    public double RatioToSingleNode => SingleRate > 0 ? ClusterRate / SingleRate : 0;

    private static string NameOf(ClusterSource source) => source switch
    {
        ClusterSource.MqttSingleton => "mqtt-singleton",
        ClusterSource.MqttShared => "mqtt-shared",
        _ => "kafka",
    };

    public string ToJson() => JsonSerializer.Serialize(new Dictionary<string, object?>
    {
        ["mode"] = "cluster",
        ["source"] = NameOf(Options.Source),
        ["reference_source"] = NameOf(Options.Reference),
        ["disruption"] = Options.Disruption switch
        {
            ClusterDisruption.Kill => "kill",
            ClusterDisruption.KillAndRestart => "kill-and-restart",
            ClusterDisruption.Partition => "partition",
            _ => "rolling-restart",
        },
        ["nodes"] = Options.Members,
        ["sensors"] = Options.Sensors,
        ["readings"] = Options.Readings,
        ["failover_seconds"] = FailoverSeconds is { } f ? Math.Round(f, 2) : null,
        ["lost"] = Lost,
        ["scored_twice"] = ScoredTwice,
        ["exact_state"] = ExactState,
        ["states_compared"] = Options.OrderKept,
        ["state_mismatches"] = StateMismatches,
        ["alert_ids"] = AlertIds,
        ["alert_ids_missing"] = AlertIdsMissing,
        ["alert_ids_extra"] = AlertIdsExtra,
        ["anomalies_under_two_ids"] = AnomaliesUnderTwoIds,
        ["single_node_readings_per_s"] = Math.Round(SingleRate),
        ["cluster_readings_per_s"] = Math.Round(ClusterRate),
        ["ratio_to_single_node"] = Math.Round(RatioToSingleNode, 3),
        ["cluster_readings_per_s_with_disruption"] = Math.Round(ClusterRateOverall),
        ["enriched_repeats"] = EnrichedRepeats,
        ["problems"] = Problems,
        ["archive"] = Archive,
        ["notifications"] = Notifications,
        ["elapsed_s"] = Math.Round(Elapsed.TotalSeconds, 1),
        ["passed"] = Passed,
    });
}

/// <summary>
/// One site as users run it in a cluster: <c>anomaly-actors run</c> member processes on one
/// PostgreSQL, consuming one readings topic (librdkafka's mock cluster, in this process) as one
/// consumer group. The same deterministic readings (demo sensors with spikes) go to two topics:
/// one member alone scores the first, uninterrupted (the reference); the cluster scores the
/// second while it is disrupted (a member SIGKILLed, or all restarted one by one). Both runs'
/// enriched topics are watched live (failover time, throughput); afterwards each run's database is
/// recovered in a node of this process, and every sensor's state (offsets, counts, detector bytes)
/// and every alert id of the cluster is compared with the reference's.
/// </summary>
public static class ClusterScenario
{
    private const string Metric = "iotValue";

    public static string SensorKey(int sensor) => $"site-{sensor % 3}/device-{sensor}/{Metric}";

    public static async Task<ClusterReport> RunAsync(ClusterOptions options, Action<string>? log = null)
    {
        log ??= _ => { };
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Members, 2);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Sensors, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.ReadingsPerSensor, 1);
        var clock = Stopwatch.StartNew();
        var deadline = DateTime.UtcNow + options.Deadline;
        var work = ScratchDirectory.Create("anomaly-actors-cluster");
        var postgres = options.Postgres is null ? new PostgresServer() : PostgresServer.UsingExisting(options.Postgres);
        await postgres.InitializeAsync();
        using var kafka = new MockKafkaCluster(brokers: 1);
        var problems = new List<string>();
        try
        {
            // The cluster's notifications: every member hands its alert changes to the site's one dispatcher.
            await using var webhook = options.Notifications ? new WebhookSink() : null;
            var single = await RunSiteAsync(new Site("single", 1, null), options with { Source = options.Reference }, kafka, postgres, work, deadline, log);
            var cluster = await RunSiteAsync(new Site("cluster", options.Members, options.Disruption, webhook?.Url), options, kafka, postgres, work, deadline, log);
            problems.AddRange(single.Problems);
            problems.AddRange(cluster.Problems);
            if (single.FinalOffsets is { } singleOffsets && cluster.FinalOffsets is { } clusterOffsets
                && (singleOffsets.Count != clusterOffsets.Count
                    || singleOffsets.Any(p => !clusterOffsets.TryGetValue(p.Key, out var offset) || offset != p.Value)))
            {
                problems.Add("the two readings topics got different offsets: states cannot be compared");
            }

            var reference = await FinalStatesAsync(single, options, kafka, work, deadline, log);
            var states = await FinalStatesAsync(cluster, options, kafka, work, deadline, log);
            var referenceAlerts = AlertLog.Read(kafka, single.Topic("alerts"));
            var alerts = AlertLog.Read(kafka, cluster.Topic("alerts"));

            var mismatches = 0;
            long lost = 0, twice = 0;
            for (var s = 0; s < options.Sensors; s++)
            {
                var key = SensorKey(s);
                var expected = reference[key];
                var actual = states[key];
                lost += Math.Max(0, options.ReadingsPerSensor - actual.ReadingsScored);
                twice += Math.Max(0, actual.ReadingsScored - options.ReadingsPerSensor);
                if (expected.ReadingsScored != options.ReadingsPerSensor)
                {
                    problems.Add($"the reference run scored {expected.ReadingsScored} readings of {key}, not {options.ReadingsPerSensor}");
                }

                // Offsets are compared only where both runs took the readings from one log (Kafka);
                // an MQTT intake numbers them as its batches fall.
                if (options.OrderKept
                    && ((!options.Mqtt && expected.Offset != actual.Offset) || expected.ReadingsScored != actual.ReadingsScored || expected.EpisodesOpened != actual.EpisodesOpened
                        || expected.EpisodeOpen != actual.EpisodeOpen || !expected.DetectorState.AsSpan().SequenceEqual(actual.DetectorState)))
                {
                    if (mismatches++ < 5)
                    {
                        log($"cluster: {key} differs: reference offset {expected.Offset}, scored {expected.ReadingsScored}, episodes {expected.EpisodesOpened}; cluster offset {actual.Offset}, scored {actual.ReadingsScored}, episodes {actual.EpisodesOpened}");
                    }
                }
            }

            var archive = options.Archive ? await AuditArchiveAsync(cluster, options, kafka, work, alerts, deadline, log) : null;
            var notifications = webhook is null ? null : NotificationAudit.Of(webhook, alerts);
            if (notifications is not null)
            {
                log($"cluster: notifications: {notifications.Delivered:N0} changes delivered for {alerts.Ids.Count:N0} on the alerts topic ({alerts.Repeats:N0} alert records repeated there), {notifications.Missing} missing, {notifications.Repeated} delivered more than once");
            }

            var report = new ClusterReport(
                options,
                cluster.FailoverSeconds,
                lost,
                twice,
                mismatches,
                // Out of publish order the episodes are other episodes: only repeats can be judged.
                options.OrderKept ? referenceAlerts.Ids.Except(alerts.Ids).Count() : 0,
                options.OrderKept ? alerts.Ids.Except(referenceAlerts.Ids).Count() : 0,
                alerts.UnderTwoIds,
                referenceAlerts.Ids.Count,
                single.SteadyRate,
                cluster.SteadyRate,
                cluster.OverallRate,
                cluster.Repeats,
                problems,
                clock.Elapsed,
                archive,
                notifications);
            log($"cluster: {report.ToJson()}");
            return report;
        }
        finally
        {
            await postgres.DisposeAsync();
            ScratchDirectory.DeleteQuietly(work);
        }
    }

    /// <param name="Notify">A webhook that the members' notifications go to, or null for none.</param>
    private sealed record Site(string Name, int Members, ClusterDisruption? Disruption, Uri? Notify = null)
    {
        public string Topic(string kind) => TopicOf(Name, kind);
    }

    private static string TopicOf(string site, string kind) => $"{kind}-{site}";

    private static string ArchiveRootOf(string work, string site) => Path.Combine(work, "archive-" + site);

    /// <summary>
    /// Collects what the members had not (a collector of this process in their group, until the
    /// archive holds every reading or the deadline passes), then reads the archive back: one
    /// enriched row per stream and offset for every reading, every alert of the alerts topic once,
    /// nothing hidden left.
    /// </summary>
    private static async Task<ArchiveAudit> AuditArchiveAsync(SiteRun run, ClusterOptions options, MockKafkaCluster kafka, string work, AlertLog alerts, DateTime deadline, Action<string> log)
    {
        var root = ArchiveRootOf(work, run.Name);
        var collector = KafkaArchiveCollector.Start(
            root,
            run.Name,
            new ArchiveOptions(4L * 1024 * 1024, TimeSpan.FromMilliseconds(500), 131_072),
            new KafkaArchiveSource(kafka.BootstrapServers, run.Name + "-archive", run.Topic("enriched"), run.Topic("alerts"), TimeSpan.FromSeconds(6), new Dictionary<string, string>()),
            message => log($"cluster: {run.Name} archive: {message}"));
        var clock = Stopwatch.StartNew();
        var last = -1L;
        var changed = clock.Elapsed;
        await using (collector)
        {
            // The group's join alone takes seconds (longer on a loaded machine, and after members
            // that were killed until their sessions expire); then the rest of both topics goes by.
            // Once nothing new was committed for 4 s the archive is read back; rows still missing
            // mean the collector has not caught up yet, so it goes on until the deadline.
            while (DateTime.UtcNow < deadline)
            {
                await Task.Delay(200);
                if (collector.RowsCommitted != last)
                {
                    last = collector.RowsCommitted;
                    changed = clock.Elapsed;
                    continue;
                }

                if (clock.Elapsed < TimeSpan.FromSeconds(10) || clock.Elapsed - changed < TimeSpan.FromSeconds(4))
                {
                    continue;
                }

                var audit = await ArchiveAudit.ReadAsync(root, options.Readings, alerts.Ids.Count);
                if (audit.Missing == 0 && audit.AlertsMissing == 0)
                {
                    break;
                }

                changed = clock.Elapsed;
            }
        }

        log($"cluster: {run.Name}: the final collector archived {collector.RowsCommitted:N0} rows the members had not (in {clock.Elapsed.TotalSeconds:0.0} s)");
        var result = await ArchiveAudit.ReadAsync(root, options.Readings, alerts.Ids.Count);
        if (!result.Exact)
        {
            foreach (var note in run.ArchiveNotes.Take(40))
            {
                log($"cluster: {run.Name}: a member's collector said: {note}");
            }

            using var query = ArchiveQuery.Open(root, ["enriched"]);
            var shortStreams = await query.RunAsync(
                $"SELECT site || '/' || device || '/' || metric AS stream, count(*) AS n, min(\"offset\") AS first, max(\"offset\") AS last FROM enriched GROUP BY ALL HAVING count(*) < {options.ReadingsPerSensor} ORDER BY n LIMIT 12",
                TimeSpan.FromMinutes(2));
            foreach (var row in shortStreams.Rows)
            {
                log($"cluster: {run.Name}: archived short: {row[0]} has {row[1]} rows (offsets {row[2]}..{row[3]})");
            }
        }

        return result;
    }

    private sealed record SiteRun(
        string Name,
        string Database,
        string Hocon,
        IReadOnlyDictionary<string, long>? FinalOffsets,
        double? FailoverSeconds,
        double SteadyRate,
        double OverallRate,
        long Repeats,
        List<string> Problems,
        IReadOnlyList<string> ArchiveNotes)
    {
        public string Topic(string kind) => TopicOf(Name, kind);
    }

    private static async Task<SiteRun> RunSiteAsync(Site site, ClusterOptions options, MockKafkaCluster kafka, PostgresServer postgres, string work, DateTime deadline, Action<string> log)
    {
        string Topic(string kind) => site.Topic(kind);
        kafka.CreateTopic(Topic("readings"), options.Partitions);
        kafka.CreateTopic(Topic("enriched"), options.EnrichedPartitions);
        kafka.CreateTopic(Topic("alerts"), AlertLog.Partitions);
        kafka.CreateTopic(Topic("dead-letters"), 1);
        var database = await postgres.CreateDatabaseAsync();
        // A broker per run: sessions and queues of one run must not hold the other's messages.
        await using var mosquitto = options.Mqtt ? await MosquittoBroker.StartAsync() : null;
        var hocon = ShippedConfiguration.CopyTo(Path.Combine(work, "hocon-" + site.Name),
            [
                $"anomaly-actors.kafka.enriched-topic = \"{Topic("enriched")}\"",
                $"anomaly-actors.kafka.alerts-topic = \"{Topic("alerts")}\"",
                $"anomaly-actors.kafka.dead-letters-topic = \"{Topic("dead-letters")}\"",
                "anomaly-actors.alerts.console = off",
                .. site.Notify is { } hook
                    ? new[]
                    {
                        $"anomaly-actors.notifications.channels.hook {{ type = webhook, url = \"{hook}\" }}",
                        "anomaly-actors.notifications.routes = [ { channels = [hook], group-by = [site], group-wait = 200ms } ]",
                    }
                    : [],
                .. options.Archive && !options.Mqtt
                    ? new[]
                    {
                        // Every member collects its share of the result topics into one root; small
                        // rolls, so that the kill lands in the middle of some.
                        "anomaly-actors.archive.enabled = on",
                        $"anomaly-actors.archive.root = \"{ArchiveRootOf(work, site.Name)}\"",
                        $"anomaly-actors.site = \"{site.Name}\"",
                        "anomaly-actors.archive.roll-age = 500ms",
                        "anomaly-actors.archive.roll-size-mb = 4",
                        "anomaly-actors.archive.idle-poll = 20ms",
                    }
                    : [],
            ]);
        var ports = Enumerable.Range(0, site.Members).Select(_ => FreePort.Next()).ToArray();
        using var isolated = site.Disruption == ClusterDisruption.Partition
            ? IsolatedMembers.Create(site.Members, ServicePorts(kafka, postgres, mosquitto))
            : null;
        string HostOf(int member) => isolated is null ? "127.0.0.1" : IsolatedMembers.AddressOf(member);
        var seeds = string.Join(",", ports.Select((p, m) => $"akka.tcp://anomaly-actors@{HostOf(m)}:{p}"));
        var problems = new List<string>();

        CliProcess Start(int member)
        {
            var info = new ProcessStartInfo("dotnet") { ArgumentList = { CliProcess.Program, "run", "--status-every", "1", "--config", hocon } };
            if (mosquitto is null)
            {
                info.ArgumentList.Add("--no-mqtt");
            }

            var environment = new Dictionary<string, string>
            {
                ["ANOMALY_ACTORS_DATA_DIR"] = Path.Combine(work, $"data-{site.Name}-{member}"),
                ["ANOMALY_ACTORS_PERSISTENCE"] = "postgresql",
                ["ANOMALY_ACTORS_POSTGRES"] = database,
                ["ANOMALY_ACTORS_HOST"] = HostOf(member),
                ["ANOMALY_ACTORS_PORT"] = ports[member].ToString(CultureInfo.InvariantCulture),
                ["ANOMALY_ACTORS_SEEDS"] = seeds,
                ["ANOMALY_ACTORS_KAFKA"] = "on",
                ["ANOMALY_ACTORS_KAFKA_BOOTSTRAP"] = kafka.BootstrapServers,
                ["ANOMALY_ACTORS_KAFKA_GROUP"] = site.Name,
                ["ANOMALY_ACTORS_KAFKA_READINGS_TOPIC"] = Topic("readings"),
            };
            if (mosquitto is not null)
            {
                environment["ANOMALY_ACTORS_MQTT_EMBEDDED"] = "off";
                environment["ANOMALY_ACTORS_MQTT_HOST"] = mosquitto.Host;
                environment["ANOMALY_ACTORS_MQTT_PORT"] = mosquitto.Port.ToString(CultureInfo.InvariantCulture);
                environment["ANOMALY_ACTORS_MQTT_IN_CLUSTER"] = options.Source == ClusterSource.MqttShared ? "shared" : "singleton";
            }

            foreach (var (name, value) in environment)
            {
                info.Environment[name] = value;
            }

            Directory.CreateDirectory(environment["ANOMALY_ACTORS_DATA_DIR"]);
            return CliProcess.Start(work, isolated is null ? info : isolated.Inside(member, info));
        }

        var members = new CliProcess?[site.Members];

        // A member that stopped (or was killed) starts again on its address and data directory.
        async Task StartAgainAsync(int member)
        {
            members[member]!.Dispose();
            members[member] = Start(member);
            await AwaitLineAsync(members[member]!, $"({site.Members} up)", deadline);
        }

        try
        {
            for (var m = 0; m < site.Members; m++)
            {
                members[m] = Start(m);
                if (m == 0)
                {
                    await AwaitLineAsync(members[0]!, "(1 up)", deadline);
                }
            }

            foreach (var member in members)
            {
                await AwaitLineAsync(member!, $"({site.Members} up)", deadline);
            }

            // With MQTT too: the results go to Kafka, and the group then holds an empty readings topic.
            await AwaitAssignedAsync(members!, options.Partitions, deadline);
            switch (options.Source)
            {
                case ClusterSource.MqttSingleton:
                    await AwaitAnyLineAsync(members!, SessionHeld, deadline);
                    break;
                case ClusterSource.MqttShared:
                    foreach (var member in members)
                    {
                        await AwaitLineAsync(member!, "MQTT: external broker", deadline);
                    }

                    break;
            }

            log($"cluster: {site.Name}: {site.Members} member(s) up and taking readings from {(mosquitto is null ? Topic("readings") : $"mosquitto ({options.Source})")}");

            using var watcher = new EnrichedWatcher(kafka, Topic("enriched"), options.EnrichedPartitions, options.ReadingsPerSensor);
            // Readings keep arriving while members die or restart; the reference run takes them as
            // fast as they come, so its rate is the single member's throughput.
            var rate = site.Disruption is null ? 0 : options.ProduceRate;
            var producing = mosquitto is null
                ? Task.Run(() => ProduceAsync(kafka, Topic("readings"), options, rate, log))
                : Task.Run(() => PublishAsync(mosquitto, options, rate, log));
            var total = options.Readings;
            var from = (long)(total * 0.1);
            var to = (long)(total * options.DisruptAt);
            await watcher.AwaitCountAsync(to, deadline);
            var steadyRate = watcher.RateBetween(from, to);
            double? failover = null;
            switch (site.Disruption)
            {
                case ClusterDisruption.Kill or ClusterDisruption.KillAndRestart:
                {
                    // Over MQTT as a singleton, the member holding the site's session: it moves too.
                    var index = options.Source == ClusterSource.MqttSingleton
                        ? Array.FindIndex(members, m => m!.Output.Contains(SessionHeld, StringComparison.Ordinal))
                        : 1;
                    var victim = members[index]!;
                    watcher.MarkKill();
                    victim.Process.Kill();
                    await victim.Process.WaitForExitAsync();
                    log($"cluster: {site.Name}: SIGKILL of member {HostOf(index)}:{ports[index]} at {watcher.Count:N0} enriched records");
                    if (site.Disruption == ClusterDisruption.KillAndRestart)
                    {
                        var survivor = members[index == 0 ? 1 : 0]!;
                        var removedFrom = survivor.Output.Length;
                        await AwaitLineAsync(survivor, $"was removed", deadline, removedFrom);
                        log($"cluster: {site.Name}: the member was removed at {watcher.Count:N0} enriched records; starting it again");
                        await StartAgainAsync(index);
                    }

                    break;
                }

                case ClusterDisruption.Partition:
                {
                    // Not the oldest member (the shard coordinator's), as with a kill.
                    const int index = 1;
                    var victim = members[index]!;
                    var survivor = members[0]!;
                    var survivorFrom = survivor.Output.Length;
                    watcher.MarkKill();
                    isolated!.Cut(index);
                    log($"cluster: {site.Name}: member {HostOf(index)}:{ports[index]} cut off from the others at {watcher.Count:N0} enriched records");

                    // The minority downs itself and its process ends; the majority downs and removes it.
                    await victim.Process.WaitForExitAsync().WaitAsync(Remaining(deadline));
                    if (victim.Process.ExitCode != 1 || !victim.Output.Contains("cluster removed it (downed)", StringComparison.Ordinal))
                    {
                        problems.Add($"the cut-off member exited with {victim.Process.ExitCode} without saying it was downed:{Environment.NewLine}{Tail(victim.Output)}");
                    }

                    await AwaitLineAsync(survivor, $"{HostOf(index)}:{ports[index]} was removed", deadline, survivorFrom);
                    log($"cluster: {site.Name}: the cut-off member downed itself and exited; the others removed it at {watcher.Count:N0} enriched records; healing and starting it again");
                    isolated.Heal(index);

                    // As a supervisor's restart delay would. Started at once on the same address, the
                    // new incarnation was once unreachable from the others right after joining, and
                    // the resolver downed it together with a survivor: an open defect (cause not yet
                    // known), see README.
                    await Task.Delay(options.RestartDelay ?? TimeSpan.FromSeconds(10));
                    await StartAgainAsync(index);
                    break;
                }

                case ClusterDisruption.RollingRestart:
                    for (var m = 0; m < site.Members; m++)
                    {
                        var member = members[m]!;
                        await member.TerminateAsync(Remaining(deadline));
                        if (member.Process.ExitCode != 0)
                        {
                            problems.Add($"member {m} exited with {member.Process.ExitCode} on SIGTERM");
                        }

                        log($"cluster: {site.Name}: member {HostOf(m)}:{ports[m]} stopped at {watcher.Count:N0} enriched records; starting it again");
                        await StartAgainAsync(m);
                    }

                    break;
            }

            var produced = await producing;
            await watcher.AwaitCompleteAsync(options.Sensors, deadline);
            if (site.Disruption is ClusterDisruption.Kill or ClusterDisruption.KillAndRestart or ClusterDisruption.Partition)
            {
                failover = watcher.FailoverSeconds();
                log($"cluster: {site.Name}: failover {failover:0.00} s (kill or cut to the last sensor scoring again)");
            }

            log($"cluster: {site.Name}: every reading scored: {watcher.Count:N0} enriched records ({watcher.Repeats:N0} repeats), {steadyRate:N0} readings/s between 10% and {options.DisruptAt:P0}, {watcher.OverallRate():N0} overall");
            for (var m = 0; m < site.Members; m++)
            {
                var member = members[m]!;
                if (member.Process.HasExited)
                {
                    continue;
                }

                await member.TerminateAsync(Remaining(deadline));
                if (member.Process.ExitCode != 0)
                {
                    problems.Add($"member {m} exited with {member.Process.ExitCode} on SIGTERM:{Environment.NewLine}{Tail(member.Output)}");
                }
            }

            if (options.Archive && !options.Mqtt && TrimmedPartitions(kafka, Topic("enriched"), options.EnrichedPartitions) is { Count: > 0 } trimmed)
            {
                // The archive's exactness is measured against a log that kept every result until the end.
                problems.Add($"the mock cluster's retention (5 MB a partition) dropped the oldest records of {Topic("enriched")} [{string.Join(", ", trimmed.Select(t => $"{t.Partition}: first {t.Low:N0}"))}]: the run needs more result partitions for its archive to be judged");
            }

            // What the members' archive collectors said (gaps in the log, waits for a last writer, failures).
            var archiveNotes = members
                .Where(m => m is not null)
                .SelectMany(m => m!.Output.Split('\n'))
                .Where(line => line.Contains("Archive:", StringComparison.Ordinal) || line.Contains("archive collector", StringComparison.Ordinal))
                .Select(line => line.TrimEnd())
                .ToList();
            return new SiteRun(site.Name, database, hocon, produced, failover, steadyRate, watcher.OverallRate(), watcher.Repeats, problems, archiveNotes);
        }
        catch (Exception e) when (e is TimeoutException or InvalidOperationException)
        {
            // The whole outputs outlive the scratch directory, for the post-mortem.
            var kept = Path.Combine(Path.GetTempPath(), "anomaly-actors-cluster-failures", Path.GetFileName(work));
            Directory.CreateDirectory(kept);
            for (var i = 0; i < members.Length; i++)
            {
                if (members[i] is { } m)
                {
                    File.WriteAllText(Path.Combine(kept, $"{site.Name}-member-{i}.log"), m.Output);
                }
            }

            var outputs = string.Join(Environment.NewLine, members.Select((m, i) => m is null ? string.Empty : $"--- member {i}:{Environment.NewLine}{Tail(m.Output)}"));
            throw new TimeoutException($"{site.Name}: {e.Message} (whole outputs in {kept}){Environment.NewLine}{outputs}", e);
        }
        finally
        {
            for (var i = 0; i < members.Length; i++)
            {
                if (options.KeepLogs is { } keep && members[i] is { } kept)
                {
                    Directory.CreateDirectory(keep);
                    File.WriteAllText(Path.Combine(keep, $"{site.Name}-member-{i}.log"), kept.Output);
                }

                members[i]?.Dispose();
            }
        }
    }

    /// <summary>Where the members reach PostgreSQL, Kafka's brokers and the MQTT broker on this machine's loopback.</summary>
    private static IEnumerable<int> ServicePorts(MockKafkaCluster kafka, PostgresServer postgres, MosquittoBroker? mosquitto)
    {
        var database = new Npgsql.NpgsqlConnectionStringBuilder(postgres.AdminConnectionString);
        if (database.Host is not ("127.0.0.1" or "localhost"))
        {
            throw new InvalidOperationException($"members in network namespaces reach PostgreSQL through this machine's loopback only, not at {database.Host}");
        }

        yield return database.Port;
        foreach (var broker in kafka.BootstrapServers.Split(','))
        {
            yield return int.Parse(broker[(broker.LastIndexOf(':') + 1)..], CultureInfo.InvariantCulture);
        }

        if (mosquitto is not null)
        {
            yield return mosquitto.Port;
        }
    }

    /// <summary>The run's database recovered in a node of this process: every sensor's state once it has applied its last reading.</summary>
    private static async Task<Dictionary<string, SensorStateView>> FinalStatesAsync(SiteRun run, ClusterOptions options, MockKafkaCluster kafka, string work, DateTime deadline, Action<string> log)
    {
        // From Kafka, a sensor is done at its last offset; from MQTT (readings in the intake
        // journal of the same database), once it has scored all its readings.
        bool Done(string key, SensorStateView view) =>
            run.FinalOffsets is { } offsets ? view.Offset == offsets[key] : view.ReadingsScored >= options.ReadingsPerSensor;
        var keys = Enumerable.Range(0, options.Sensors).Select(SensorKey).ToArray();
        var overrides = ConfigurationFactory.ParseString(string.Join(Environment.NewLine,
            $"anomaly-actors.data-dir = \"{Path.Combine(work, "final-" + run.Name)}\"",
            "anomaly-actors.persistence.provider = postgresql",
            $"anomaly-actors.persistence.postgresql.connection-string = \"{run.Database}\"",
            $"anomaly-actors.kafka.enabled = {(run.FinalOffsets is null ? "off" : "on")}",
            $"anomaly-actors.kafka.bootstrap-servers = \"{kafka.BootstrapServers}\"",
            $"anomaly-actors.kafka.group-id = \"{run.Name}\"",
            $"anomaly-actors.kafka.readings-topic = \"{run.Topic("readings")}\"",
            "anomaly-actors.kafka.enriched-topic = \"\"",
            "anomaly-actors.mqtt.enabled = off",
            "anomaly-actors.archive.enabled = off",
            // Recovering the run's database to read its states, not a member: it notifies nothing.
            "anomaly-actors.notifications.routes = []",
            "anomaly-actors.web.port = 0",
            "akka.remote.dot-netty.tcp.port = 0",
            "akka.loglevel = WARNING"));
        var clock = Stopwatch.StartNew();
        await using var host = await AnomalyHost.StartAsync(overrides, run.Hocon, systemName: "anomaly-actors");
        var views = new Dictionary<string, SensorStateView>(StringComparer.Ordinal);
        while (true)
        {
            var pending = keys.Where(key => !views.TryGetValue(key, out var v) || !Done(key, v)).ToArray();
            if (pending.Length == 0)
            {
                break;
            }

            if (DateTime.UtcNow >= deadline)
            {
                var examples = string.Join(", ", pending.Take(5).Select(key =>
                    $"{key} at {(views.TryGetValue(key, out var v) ? $"message {ExternalOffsets.MessageOf(v.Offset)} of partition {v.PartitionId}, {v.ReadingsScored} scored" : "no answer")}"
                    + (run.FinalOffsets is { } offsets ? $", last reading in message {ExternalOffsets.MessageOf(offsets[key])}" : string.Empty)));
                throw new TimeoutException($"{run.Name}: {pending.Length} sensors did not reach their last offset after recovery, e.g. {examples}");
            }

            foreach (var chunk in pending.Chunk(2000))
            {
                var answers = await Task.WhenAll(chunk.Select(async key =>
                {
                    try
                    {
                        return await host.Node.Sensors.Ask<SensorStateView>(new GetSensorState(key), TimeSpan.FromSeconds(30));
                    }
                    catch (AskTimeoutException)
                    {
                        return null;
                    }
                }));
                foreach (var view in answers)
                {
                    if (view is not null)
                    {
                        views[view.SensorId] = view;
                    }
                }
            }

            await Task.Delay(200);
        }

        log($"cluster: {run.Name}: {views.Count:N0} sensors recovered from PostgreSQL and the log in {clock.Elapsed.TotalSeconds:0.0} s");
        await host.StopAsync();
        return views;
    }

    /// <summary>
    /// Deterministic demo-sensor readings (level 10-19, noise, rare spikes of 100-120), round by
    /// round over the sensors, keyed sensors/site/device/metric as the MQTT-to-Kafka bridge does.
    /// Returns each sensor's last offset (composed as the intake composes them).
    /// </summary>
    /// <summary>Waits until round <paramref name="round"/> (one reading of every sensor) is due at <paramref name="rate"/> readings a second; 0 does not wait.</summary>
    private static async Task PaceRoundAsync(Stopwatch clock, int round, int sensors, int rate, CancellationToken cancellation)
    {
        if (rate <= 0)
        {
            return;
        }

        var due = TimeSpan.FromSeconds((double)round * sensors / rate) - clock.Elapsed;
        if (due > TimeSpan.Zero)
        {
            await Task.Delay(due, cancellation);
        }
    }

    /// <summary>Partitions of a topic that no longer hold their first record, and the offset they start at.</summary>
    private static List<(int Partition, long Low)> TrimmedPartitions(MockKafkaCluster kafka, string topic, int partitions)
    {
        using var consumer = new ConsumerBuilder<string, byte[]>(new ConsumerConfig
        {
            BootstrapServers = kafka.BootstrapServers,
            GroupId = "watermarks-" + Guid.NewGuid().ToString("N"),
            EnableAutoCommit = false,
        }).Build();
        return Enumerable.Range(0, partitions)
            .Select(p => (Partition: p, Low: consumer.QueryWatermarkOffsets(new TopicPartition(topic, p), TimeSpan.FromSeconds(30)).Low.Value))
            .Where(p => p.Low > 0)
            .ToList();
    }

    private static async Task<IReadOnlyDictionary<string, long>?> ProduceAsync(MockKafkaCluster kafka, string topic, ClusterOptions options, int rate, Action<string> log)
    {
        var clock = Stopwatch.StartNew();
        using var producer = new ProducerBuilder<string, byte[]>(new ProducerConfig
        {
            BootstrapServers = kafka.BootstrapServers,
            EnableIdempotence = true,
            LingerMs = 5,
            QueueBufferingMaxMessages = 10_000_000,
            QueueBufferingMaxKbytes = 2_000_000,
        }).Build();
        var failures = 0L;
        var keys = Enumerable.Range(0, options.Sensors).Select(s => "sensors/" + SensorKey(s)).ToArray();
        var values = Values(options);
        for (var r = 0; r < options.ReadingsPerSensor; r++)
        {
            await PaceRoundAsync(clock, r, options.Sensors, rate, CancellationToken.None);

            for (var s = 0; s < options.Sensors; s++)
            {
                producer.Produce(
                    topic,
                    new Message<string, byte[]>
                    {
                        Key = keys[s],
                        Value = Encoding.UTF8.GetBytes(values[(long)r * options.Sensors + s].ToString("R", CultureInfo.InvariantCulture)),
                        Timestamp = new Timestamp(TimestampOf(r), TimestampType.CreateTime),
                    },
                    report =>
                    {
                        if (report.Error.IsError)
                        {
                            Interlocked.Increment(ref failures);
                        }
                    });
            }
        }

        await Task.Run(() => producer.Flush(TimeSpan.FromMinutes(5)));

        if (Interlocked.Read(ref failures) > 0 || producer.Flush(TimeSpan.Zero) > 0)
        {
            throw new InvalidOperationException($"{failures} readings could not be produced to {topic}.");
        }

        log(string.Create(CultureInfo.InvariantCulture, $"cluster: {options.Readings:N0} readings produced to {topic} in {clock.Elapsed.TotalSeconds:0.0} s"));
        // Each sensor's last offset is taken from the topic itself: under load the mock cluster's
        // delivery reports put some messages at other offsets than the log holds them (seen for
        // 1,469 of 2,000 sensors with the machine busy).
        var (held, last, outOfOrder) = ReadBack(kafka, topic, options.Partitions);
        if (held != options.Readings || last.Count != options.Sensors || outOfOrder > 0)
        {
            // The comparison with the reference needs both topics to hold exactly what was produced,
            // once each, every sensor's readings in the order produced.
            throw new InvalidOperationException(
                $"{topic} holds {held:N0} messages of {last.Count:N0} sensors for {options.Readings:N0} produced, {outOfOrder:N0} of them out of order");
        }

        return last;
    }

    private static readonly long FirstTimestampMs = new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds();

    /// <summary>Reading <paramref name="round"/> of every sensor is timed one second after the one before.</summary>
    private static long TimestampOf(int round) => FirstTimestampMs + round * 1000L;

    private static int RoundOf(long timestampMs) => (int)((timestampMs - FirstTimestampMs) / 1000);

    /// <summary>Every reading's value, round by round over the sensors (index round * sensors + sensor), the same in every run.</summary>
    private static double[] Values(ClusterOptions options)
    {
        var random = new Random(4);
        var values = new double[options.Readings];
        for (var r = 0; r < options.ReadingsPerSensor; r++)
        {
            for (var s = 0; s < options.Sensors; s++)
            {
                var value = 10 + s % 10 + random.NextDouble();
                if (r >= 50 && random.NextDouble() < 0.003)
                {
                    value = 100 + random.NextDouble() * 20;
                }

                values[(long)r * options.Sensors + s] = value;
            }
        }

        return values;
    }

    /// <summary>
    /// The same readings as devices publish them to mosquitto: JSON of the demo format (value and
    /// time), QoS 1, over a few connections that each carry a fixed share of the sensors, so every
    /// sensor's readings are published in order. Returns once the broker has acknowledged them all.
    /// </summary>
    private static async Task<IReadOnlyDictionary<string, long>?> PublishAsync(MosquittoBroker broker, ClusterOptions options, int rate, Action<string> log)
    {
        const int Connections = 4;
        var clock = Stopwatch.StartNew();
        var values = Values(options);
        var topics = Enumerable.Range(0, options.Sensors).Select(s => $"sensors/site-{s % 3}/device-{s}/demo").ToArray();
        using var stop = new CancellationTokenSource(options.Deadline);
        await Task.WhenAll(Enumerable.Range(0, Connections).Select(async c =>
        {
            await using var connection = new PublisherConnection(new PublisherEndpoint(broker.Host, broker.Port, $"publisher-{c}", null, null), maxInFlight: 1000);
            await connection.ConnectAsync(stop.Token);
            for (var r = 0; r < options.ReadingsPerSensor; r++)
            {
                await PaceRoundAsync(clock, r, options.Sensors, rate, stop.Token);

                for (var s = c; s < options.Sensors; s += Connections)
                {
                    var payload = string.Create(CultureInfo.InvariantCulture, $"{{\"iotValue\":{values[(long)r * options.Sensors + s]:R},\"ts\":{TimestampOf(r)}}}");
                    await connection.PublishAsync(topics[s], Encoding.UTF8.GetBytes(payload), MqttQualityOfServiceLevel.AtLeastOnce, stop.Token);
                }
            }

            await connection.CloseAsync(stop.Token);
            if (connection.Failed > 0)
            {
                throw new InvalidOperationException($"{connection.Failed} readings could not be published.");
            }
        }));

        log(string.Create(CultureInfo.InvariantCulture, $"cluster: {options.Readings:N0} readings published to mosquitto in {clock.Elapsed.TotalSeconds:0.0} s"));
        return null;
    }

    /// <summary>
    /// What the topic holds: its messages, each sensor's last message offset (composed), and how many
    /// messages came after a later reading of their sensor (the readings' times rise round by round).
    /// </summary>
    private static (long Held, Dictionary<string, long> Last, long OutOfOrder) ReadBack(MockKafkaCluster kafka, string topic, int partitions)
    {
        using var consumer = new ConsumerBuilder<string, byte[]>(new ConsumerConfig
        {
            BootstrapServers = kafka.BootstrapServers,
            GroupId = "read-back-" + Guid.NewGuid().ToString("N"),
            EnableAutoCommit = false,
        }).Build();
        var ends = Enumerable.Range(0, partitions)
            .Select(p => consumer.QueryWatermarkOffsets(new TopicPartition(topic, p), TimeSpan.FromSeconds(30)).High.Value)
            .ToArray();
        consumer.Assign(Enumerable.Range(0, partitions).Select(p => new TopicPartitionOffset(topic, p, Offset.Beginning)));
        var last = new Dictionary<string, long>(StringComparer.Ordinal);
        var time = new Dictionary<string, long>(StringComparer.Ordinal);
        var held = 0L;
        var outOfOrder = 0L;
        var remaining = ends.Count(e => e > 0);
        var position = new long[partitions];
        var clock = Stopwatch.StartNew();
        while (remaining > 0 && clock.Elapsed < TimeSpan.FromMinutes(2))
        {
            var result = consumer.Consume(TimeSpan.FromSeconds(1));
            if (result?.Message is null)
            {
                continue;
            }

            held++;
            var sensor = result.Message.Key["sensors/".Length..];
            last[sensor] = ExternalOffsets.Compose(result.Offset.Value, 0);
            var at = result.Message.Timestamp.UnixTimestampMs;
            if (time.TryGetValue(sensor, out var before) && at <= before)
            {
                outOfOrder++;
            }

            time[sensor] = at;
            var p = result.Partition.Value;
            position[p] = result.Offset.Value + 1;
            if (position[p] == ends[p])
            {
                remaining--;
            }
        }

        return (held, last, outOfOrder);
    }

    /// <summary>What a member logs when it takes over the site's MQTT session.</summary>
    private const string SessionHeld = "MQTT: this member now holds the site's MQTT session";

    private static async Task AwaitAnyLineAsync(CliProcess?[] members, string text, DateTime deadline)
    {
        while (!members.Any(m => m is not null && m.Output.Contains(text, StringComparison.Ordinal)))
        {
            if (DateTime.UtcNow >= deadline)
            {
                throw new TimeoutException($"no '{text}' from any member in time");
            }

            await Task.Delay(100);
        }
    }

    /// <param name="from">Where in the member's output to start looking.</param>
    private static async Task AwaitLineAsync(CliProcess member, string text, DateTime deadline, int from = 0)
    {
        while (member.Output.IndexOf(text, from, StringComparison.Ordinal) < 0)
        {
            if (member.Process.HasExited)
            {
                throw new InvalidOperationException($"a member exited with {member.Process.ExitCode} before printing '{text}'");
            }

            if (DateTime.UtcNow >= deadline)
            {
                throw new TimeoutException($"no '{text}' from a member in time");
            }

            await Task.Delay(100);
        }
    }

    private static readonly System.Text.RegularExpressions.Regex Assigned = new(@"Kafka: (\d+) partitions assigned", System.Text.RegularExpressions.RegexOptions.Compiled);

    /// <summary>
    /// Waits until the members' latest status lines together hold every partition, each member
    /// some, and that has not changed for 3 s: the group has settled.
    /// </summary>
    private static async Task AwaitAssignedAsync(CliProcess[] members, int partitions, DateTime deadline)
    {
        var since = DateTime.UtcNow;
        var last = string.Empty;
        while (true)
        {
            var counts = members.Select(m => Assigned.Matches(m.Output) is { Count: > 0 } all ? int.Parse(all[^1].Groups[1].Value, CultureInfo.InvariantCulture) : 0).ToArray();
            var now = string.Join(",", counts);
            if (now != last)
            {
                last = now;
                since = DateTime.UtcNow;
            }
            else if (counts.Sum() == partitions && counts.All(c => c > 0) && DateTime.UtcNow - since > TimeSpan.FromSeconds(3))
            {
                return;
            }

            if (DateTime.UtcNow >= deadline)
            {
                throw new TimeoutException($"the consumer group did not settle (partitions per member: {now})");
            }

            await Task.Delay(200);
        }
    }

    private static TimeSpan Remaining(DateTime deadline)
    {
        var left = deadline - DateTime.UtcNow;
        return left > TimeSpan.Zero ? left : TimeSpan.Zero;
    }

    /// <summary>A member's output without its periodic status lines: the first and the last 30 lines.</summary>
    private static string Tail(string output)
    {
        var all = output.Split('\n');
        var lines = all.Where(l => !(l.StartsWith('[') && l.Contains("readings scored", StringComparison.Ordinal)) && !l.StartsWith("           ", StringComparison.Ordinal)).ToArray();
        var status = Array.FindLastIndex(all, l => l.StartsWith('[') && l.Contains("readings scored", StringComparison.Ordinal));
        var lastStatus = status < 0 ? [] : all.Skip(status).Take(3).Prepend("last status:");
        return string.Join('\n', (lines.Length <= 60 ? lines : lines.Take(30).Append("...").Concat(lines.TakeLast(30))).Concat(lastStatus));
    }

    /// <summary>
    /// Reads a run's enriched topic as it is written: per sensor which of its readings (known by their
    /// times) were scored and when records arrived, so completion, throughput and failover are seen
    /// as a user of the topic sees them.
    /// </summary>
    private sealed class EnrichedWatcher : IDisposable
    {
        private static readonly TimeSpan Grace = TimeSpan.FromSeconds(1);
        private readonly IConsumer<string, byte[]> _consumer;
        private readonly Thread _thread;
        private readonly Stopwatch _clock = Stopwatch.StartNew();
        private readonly int _readingsPerSensor;
        private readonly Dictionary<string, (System.Collections.BitArray Seen, int Count)> _scored = new(StringComparer.Ordinal);
        private readonly Dictionary<string, TimeSpan> _resumed = new(StringComparer.Ordinal);
        private readonly List<(long Count, TimeSpan At)> _marks = [];
        private volatile bool _stopping;
        private long _count;
        private long _repeats;
        private TimeSpan _first = TimeSpan.MinValue;
        private TimeSpan _lastNew;
        private TimeSpan? _killedAt;
        private Exception? _failure;

        public EnrichedWatcher(MockKafkaCluster kafka, string topic, int partitions, int readingsPerSensor)
        {
            _readingsPerSensor = readingsPerSensor;
            _consumer = new ConsumerBuilder<string, byte[]>(new ConsumerConfig
            {
                BootstrapServers = kafka.BootstrapServers,
                GroupId = "watcher-" + Guid.NewGuid().ToString("N"),
                EnableAutoCommit = false,
                FetchWaitMaxMs = 10,
                // Records dropped by the mock's retention before this read them fail the run with
                // that reason; the default (latest) would skip to the end and look like lost readings.
                AutoOffsetReset = AutoOffsetReset.Error,
            }).Build();
            _consumer.Assign(Enumerable.Range(0, partitions).Select(p => new TopicPartitionOffset(topic, p, Offset.Beginning)));
            _thread = new Thread(Run) { IsBackground = true, Name = "enriched-watcher" };
            _thread.Start();
        }

        public long Count => Interlocked.Read(ref _count);

        public long Repeats => Interlocked.Read(ref _repeats);

        public void MarkKill()
        {
            lock (_scored)
            {
                _killedAt = _clock.Elapsed;
            }
        }

        private void Run()
        {
            try
            {
                while (!_stopping)
                {
                    var result = _consumer.Consume(100);
                    if (result?.Message is not { } message || message.Key is null)
                    {
                        continue;
                    }

                    var round = RoundOf(TimestampOf(message.Value));
                    var now = _clock.Elapsed;
                    lock (_scored)
                    {
                        if (_first == TimeSpan.MinValue)
                        {
                            _first = now;
                        }

                        if (!_scored.TryGetValue(message.Key, out var scored))
                        {
                            scored = (new System.Collections.BitArray(_readingsPerSensor), 0);
                        }

                        if (round < 0 || round >= _readingsPerSensor)
                        {
                            throw new InvalidDataException($"an enriched record of {message.Key} with a time no reading had");
                        }

                        if (scored.Seen[round])
                        {
                            _repeats++;
                        }
                        else
                        {
                            scored.Seen[round] = true;
                            _scored[message.Key] = (scored.Seen, scored.Count + 1);
                            _lastNew = now;
                            var count = ++_count;
                            if (count % 10_000 == 0)
                            {
                                _marks.Add((count, now));
                            }
                        }

                        if (_killedAt is { } killed && now > killed + Grace && !_resumed.ContainsKey(message.Key))
                        {
                            _resumed[message.Key] = now;
                        }
                    }
                }
            }
            catch (ConsumeException e) when (e.Error.Code == ErrorCode.Local_AutoOffsetReset)
            {
                _failure = new InvalidDataException(
                    $"the mock cluster's retention (5 MB a partition) dropped records of {e.ConsumerRecord?.Topic} [{e.ConsumerRecord?.Partition.Value}] before they were read: the run needs more result partitions", e);
            }
            catch (Exception e)
            {
                _failure = e;
            }
        }

        private static long TimestampOf(byte[] json)
        {
            var reader = new Utf8JsonReader(json);
            while (reader.Read())
            {
                if (reader.TokenType == JsonTokenType.PropertyName && reader.ValueTextEquals("ts"u8))
                {
                    reader.Read();
                    return reader.GetInt64();
                }
            }

            throw new InvalidDataException("an enriched record without a time");
        }

        public async Task AwaitCountAsync(long count, DateTime deadline)
        {
            while (Count < count)
            {
                Check(deadline, () => $"{Count:N0} of {count:N0} readings scored");
                await Task.Delay(50);
            }
        }

        /// <summary>Until every reading of every sensor is scored.</summary>
        public async Task AwaitCompleteAsync(int sensors, DateTime deadline)
        {
            while (true)
            {
                int behind;
                lock (_scored)
                {
                    behind = sensors - _scored.Values.Count(s => s.Count == _readingsPerSensor);
                }

                if (behind == 0)
                {
                    return;
                }

                Check(deadline, () => $"{behind:N0} sensors short of their readings ({Behind(sensors)}), {Count:N0} readings scored");
                await Task.Delay(100);
            }
        }

        /// <summary>A few of the sensors short of their readings, with what each is missing.</summary>
        private string Behind(int sensors)
        {
            lock (_scored)
            {
                return string.Join(", ", Enumerable.Range(0, sensors).Select(SensorKey)
                    .Where(key => !_scored.TryGetValue(key, out var s) || s.Count < _readingsPerSensor)
                    .Take(5)
                    .Select(key => _scored.TryGetValue(key, out var s)
                        ? $"{key} with {s.Count} of {_readingsPerSensor}, first missing #{Enumerable.Range(0, _readingsPerSensor).First(r => !s.Seen[r])}"
                        : $"{key} with none"));
            }
        }

        /// <summary>Throws when reading failed or the deadline passed; <paramref name="what"/> is only built then.</summary>
        private void Check(DateTime deadline, Func<string> what)
        {
            if (_failure is { } failure)
            {
                throw new InvalidOperationException("reading the enriched topic failed", failure);
            }

            if (DateTime.UtcNow >= deadline)
            {
                throw new TimeoutException($"not done in time: {what()}");
            }
        }

        /// <summary>Readings per second between the moments the count passed <paramref name="from"/> and <paramref name="to"/>.</summary>
        public double RateBetween(long from, long to)
        {
            lock (_scored)
            {
                var start = _marks.FirstOrDefault(m => m.Count >= from);
                var end = _marks.LastOrDefault(m => m.Count <= to);
                return end.Count > start.Count ? (end.Count - start.Count) / (end.At - start.At).TotalSeconds : 0;
            }
        }

        public double OverallRate()
        {
            lock (_scored)
            {
                return _lastNew > _first ? _count / (_lastNew - _first).TotalSeconds : 0;
            }
        }

        /// <summary>Kill to the last first-record-after-the-kill among the sensors (records in flight at the kill excluded by a grace second).</summary>
        public double? FailoverSeconds()
        {
            lock (_scored)
            {
                return _killedAt is { } killed && _resumed.Count > 0 ? (_resumed.Values.Max() - killed).TotalSeconds : null;
            }
        }

        public void Dispose()
        {
            _stopping = true;
            _thread.Join();
            _consumer.Close();
            _consumer.Dispose();
        }
    }

    /// <summary>A run's alerts topic: every (alert id, open/close), and anomalies opened under more than one id.</summary>
    /// <param name="Ids">Alert ids with their change ("id open", "id close").</param>
    /// <param name="Repeats">Records beyond the first of an id and change (a sensor repeating its alert after the kill).</param>
    internal sealed record AlertLog(HashSet<string> Ids, int UnderTwoIds, long Repeats)
    {
        public const int Partitions = 4;

        public static AlertLog Read(MockKafkaCluster kafka, string topic)
        {
            using var consumer = new ConsumerBuilder<string, byte[]>(new ConsumerConfig
            {
                BootstrapServers = kafka.BootstrapServers,
                GroupId = "alerts-" + Guid.NewGuid().ToString("N"),
                EnableAutoCommit = false,
            }).Build();
            var ids = new HashSet<string>(StringComparer.Ordinal);
            long repeats = 0;
            var opened = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
            for (var p = 0; p < Partitions; p++)
            {
                var partition = new TopicPartition(topic, p);
                var watermarks = consumer.QueryWatermarkOffsets(partition, TimeSpan.FromSeconds(10));
                if (watermarks.Low.Value > 0)
                {
                    throw new InvalidOperationException($"{topic} [{p}] no longer holds its first {watermarks.Low.Value} alerts (the mock's retention).");
                }

                if (watermarks.High.Value == 0)
                {
                    continue;
                }

                consumer.Assign(new TopicPartitionOffset(partition, 0));
                while (true)
                {
                    var result = consumer.Consume(TimeSpan.FromSeconds(10)) ?? throw new TimeoutException($"reading {topic} [{p}] stalled");
                    using var json = JsonDocument.Parse(result.Message.Value);
                    var root = json.RootElement;
                    var id = root.GetProperty("alertId").GetString()!;
                    var type = root.GetProperty("type").GetString()!;
                    if (!ids.Add($"{id} {type}"))
                    {
                        repeats++;
                    }

                    if (type == "open")
                    {
                        var reading = $"{root.GetProperty("site").GetString()}/{root.GetProperty("device").GetString()}/{root.GetProperty("metric").GetString()}@{root.GetProperty("timestamp").GetString()}";
                        if (!opened.TryGetValue(reading, out var set))
                        {
                            opened[reading] = set = new HashSet<string>(StringComparer.Ordinal);
                        }

                        set.Add(id);
                    }

                    if (result.Offset.Value + 1 >= watermarks.High.Value)
                    {
                        break;
                    }
                }
            }

            return new AlertLog(ids, opened.Values.Count(s => s.Count > 1), repeats);
        }
    }
}

/// <summary>What the cluster's webhook received against what its alerts topic holds.</summary>
/// <param name="Delivered">Alert changes (id and firing or resolved) in requests answered 200.</param>
/// <param name="Missing">Changes on the alerts topic never delivered.</param>
/// <param name="Repeated">Deliveries beyond the first of a change.</param>
/// <param name="Unknown">Changes delivered that the alerts topic does not hold.</param>
public sealed record NotificationAudit(int Delivered, int Missing, int Repeated, int Unknown)
{
    public bool Exact => Missing == 0 && Repeated == 0 && Unknown == 0;

    internal static NotificationAudit Of(WebhookSink webhook, ClusterScenario.AlertLog alerts)
    {
        var delivered = webhook.Requests.Where(r => r.Answer == System.Net.HttpStatusCode.OK)
            .SelectMany(r => r.Body.GetProperty("alerts").EnumerateArray())
            .Select(a => $"{a.GetProperty("labels").GetProperty("alert_id").GetString()} {(a.GetProperty("status").GetString() == "firing" ? "open" : "close")}")
            .ToList();
        var distinct = delivered.ToHashSet(StringComparer.Ordinal);
        return new NotificationAudit(distinct.Count, alerts.Ids.Count(id => !distinct.Contains(id)), delivered.Count - distinct.Count, distinct.Count(id => !alerts.Ids.Contains(id)));
    }
}
