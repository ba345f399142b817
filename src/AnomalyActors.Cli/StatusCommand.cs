using System.Globalization;
using System.Text.Json;
using Akka.Actor;
using Akka.Configuration;
using AnomalyActors.Core.Configuration;
using AnomalyActors.Core.Queries;
using AnomalyActors.Node.Clustering;
using AnomalyActors.Node.Hosting;

namespace AnomalyActors.Cli;

/// <summary>
/// <c>status</c>: asks one member of a running site (the first seed unless told otherwise) for the
/// members, their state, the shards and sensors each hosts, and the intake's lag. The command talks
/// to the member over Akka remoting from an actor system of its own; it never joins the cluster.
/// </summary>
internal static class StatusCommand
{
    public static readonly CommandSpec Spec = new(
        "status",
        "Show a running site's members, their state, sensor shards, sensors and intake partitions per member, and the intake's lag.",
        null,
        null,
        [
            new("member", "ADDRESS", "The member to ask, e.g. akka.tcp://anomaly-actors@10.0.0.1:4053 (default: the first seed, ANOMALY_ACTORS_SEEDS)."),
            new("timeout", "SECONDS", "How long to wait for the answer (default 30)."),
            new("json", null, "Print the answer as one JSON object."),
            new("config", "DIR", "Folder with anomaly-actors.conf and akka.conf, for the seeds and this host's address (default: the shipped hocon folder)."),
        ]);

    public static async Task<int> ExecuteAsync(ParsedArguments args, CancellationToken stopping)
    {
        var timeout = TimeSpan.FromSeconds(args.Double("timeout", 30, minimum: 0.1));
        var (config, origin) = NodeConfig.Load(directory: NodeOptions.ConfigDirectory(args));
        var member = MemberToAsk(args.Text("member"), config, origin);
        var host = config.GetString("akka.remote.dot-netty.tcp.hostname", "127.0.0.1");
        var client = ConfigurationFactory.ParseString($$"""
            akka {
              # The answer (or the one clear error) is the output: remoting's complaints about an address
              # nobody answers at, or about connections closed as the command ends, are not.
              loglevel = OFF
              stdout-loglevel = OFF
              actor {
                provider = remote
                # The members' own serializers, so that their answer reads here as it was written.
                serializers { {{Entries(config, "akka.actor.serializers")}} }
                serialization-bindings { {{Entries(config, "akka.actor.serialization-bindings")}} }
              }
              # Any free port on this host's address: the member answers over the same connection.
              remote.dot-netty.tcp { hostname = {{HoconText.Quote(host)}}, port = 0 }
              coordinated-shutdown.run-by-clr-shutdown-hook = off
            }
            """);

        using var system = ActorSystem.Create("anomaly-actors-status", client);
        try
        {
            SiteStatus status;
            try
            {
                status = await system.ActorSelection(member + SiteStatusActor.Path)
                    .Ask<SiteStatus>(new GetSiteStatus(), timeout, stopping).ConfigureAwait(false);
            }
            catch (AskTimeoutException)
            {
                await Console.Error.WriteLineAsync($"anomaly-actors status: no answer from {member} within {timeout.TotalSeconds:0.#} s (is a member running there, and is the address exactly its akka.remote hostname and port?)");
                return ExitCodes.Failure;
            }

            Console.Out.Write(args.Flag("json") ? Json(status) : Table(status));
            return ExitCodes.Ok;
        }
        finally
        {
            await system.Terminate().ConfigureAwait(false);
        }
    }

    /// <summary>The entries of a HOCON object of the node's configuration, written out again as quoted key = value pairs.</summary>
    private static string Entries(Config config, string path) =>
        string.Join("\n", config.GetConfig(path).AsEnumerable().Select(entry => $"{HoconText.Quote(entry.Key)} = {HoconText.Quote(entry.Value.GetString())}"));

    private static Address MemberToAsk(string? given, Config config, Core.Configuration.ConfigOrigin origin)
    {
        var text = given ?? config.GetStringList("akka.cluster.seed-nodes")?.FirstOrDefault();
        if (string.IsNullOrWhiteSpace(text))
        {
            throw new UsageException($"no member to ask: give --member akka.tcp://anomaly-actors@HOST:PORT, or set the seeds (ANOMALY_ACTORS_SEEDS; {origin.Of("akka.cluster.seed-nodes")})");
        }

        try
        {
            return Address.Parse(text);
        }
        catch (Exception e) when (e is UriFormatException or ArgumentException or FormatException)
        {
            throw new UsageException($"'{text}' is not a member address like akka.tcp://anomaly-actors@10.0.0.1:4053 ({e.Message})");
        }
    }

    internal static string Table(SiteStatus status)
    {
        var lines = new List<string>
        {
            string.Create(CultureInfo.InvariantCulture, $"Site as {status.AnsweredBy} sees it: {status.Members.Count} member(s)"),
        };
        var width = Math.Max("MEMBER".Length, status.Members.Count == 0 ? 0 : status.Members.Max(m => m.Address.Length));
        var stateWidth = Math.Max("STATE".Length, status.Members.Count == 0 ? 0 : status.Members.Max(m => m.Status.Length));
        lines.Add($"  {"MEMBER".PadRight(width)}  {"STATE".PadRight(stateWidth)}  {"SENSOR SHARDS",13}  {"SENSORS",9}  {"INTAKE PARTITIONS",17}");
        lines.AddRange(status.Members.Select(m => string.Create(CultureInfo.InvariantCulture,
            $"  {m.Address.PadRight(width)}  {m.Status.PadRight(stateWidth)}  {m.SensorShards,13:N0}  {m.Sensors,9:N0}  {m.IntakePartitions,17:N0}")));
        lines.Add(status.SensorsBehind < 0
            ? "Intake: not known now (an intake partition did not answer in time; partitions are moving between members)"
            : string.Create(CultureInfo.InvariantCulture,
                $"Intake: {status.SensorsBehind:N0} sensors behind, {status.ReadingsRetained:N0} readings retained, {status.ReadingsStored:N0} readings stored since the store was created"));
        return string.Join(Environment.NewLine, lines) + Environment.NewLine;
    }

    private static string Json(SiteStatus status) => JsonSerializer.Serialize(new
    {
        answeredBy = status.AnsweredBy,
        members = status.Members.Select(m => new { address = m.Address, state = m.Status, sensorShards = m.SensorShards, sensors = m.Sensors, intakePartitions = m.IntakePartitions }),
        intake = status.SensorsBehind < 0 ? null : new { sensorsBehind = status.SensorsBehind, readingsRetained = status.ReadingsRetained, readingsStored = status.ReadingsStored },
    }) + Environment.NewLine;
}
