using System.Diagnostics;
using System.Globalization;
using AnomalyActors.Testing;
using Xunit;

namespace AnomalyActors.Host.Tests;

[CollectionDefinition(Name)]
public sealed class HostPostgresCollection : ICollectionFixture<PostgresServer>
{
    public const string Name = "host-postgres";
}

/// <summary>
/// Three `run` processes forming one site's cluster on a shared PostgreSQL: they find each other
/// through the seeds, a member killed with SIGKILL is downed by the split brain resolver and
/// removed, and the same member started again joins as a new incarnation.
/// </summary>
[Collection(HostPostgresCollection.Name)]
public sealed class ClusterMembershipSpecs(PostgresServer postgres)
{
    private static CliProcess StartMember(string connection, int port, int seedPort)
    {
        var info = new ProcessStartInfo("dotnet") { ArgumentList = { CliProcess.Program, "run", "--no-mqtt", "--status-every", "1" } };
        info.Environment["ANOMALY_ACTORS_PERSISTENCE"] = "postgresql";
        info.Environment["ANOMALY_ACTORS_POSTGRES"] = connection;
        info.Environment["ANOMALY_ACTORS_PORT"] = port.ToString(CultureInfo.InvariantCulture);
        info.Environment["ANOMALY_ACTORS_SEEDS"] = $"akka.tcp://anomaly-actors@127.0.0.1:{seedPort}";
        return CliProcess.Start(HostFixture.NewDataDirectory(), info);
    }

    private static string[] ClusterLines(CliProcess member) =>
        [.. member.Output.Split('\n').Where(l => l.TrimStart().StartsWith("cluster:", StringComparison.Ordinal))];

    private static async Task AwaitLineAsync(CliProcess member, string text, TimeSpan timeout, int count = 1)
    {
        await HostFixture.AwaitAsync(
            () => member.Output.Split('\n').Count(l => l.Contains(text, StringComparison.Ordinal)) >= count || member.Process.HasExited,
            timeout,
            () => $"'{text}' in the member's output:{Environment.NewLine}{member.Output}");
        Assert.False(member.Process.HasExited, $"the member exited:{Environment.NewLine}{member.Output}");
    }

    [Fact]
    public async Task Should_form_a_cluster_down_a_killed_member_and_take_it_back_as_a_new_incarnation()
    {
        // Arrange: the first seed, then two members joining through it
        var connection = await postgres.CreateDatabaseAsync();
        var ports = new[] { HostFixture.FreePortNumber(), HostFixture.FreePortNumber(), HostFixture.FreePortNumber() };
        using var first = StartMember(connection, ports[0], ports[0]);
        await AwaitLineAsync(first, "(1 up)", TimeSpan.FromSeconds(60));
        using var second = StartMember(connection, ports[1], ports[0]);
        using var third = StartMember(connection, ports[2], ports[0]);
        foreach (var member in new[] { first, second, third })
        {
            await AwaitLineAsync(member, "(3 up)", TimeSpan.FromSeconds(60));
        }

        // The status shows every member and where the intake partitions went (all 8, once a rebalance is over)
        static int Partitions(string line) =>
            System.Text.RegularExpressions.Regex.Matches(line, @"(\d+) intake partitions").Sum(m => int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture));
        await HostFixture.AwaitAsync(
            () => ClusterLines(first).Any(l => ports.All(p => l.Contains($"127.0.0.1:{p} Up:", StringComparison.Ordinal)) && Partitions(l) == 8),
            TimeSpan.FromSeconds(60), () => string.Join(Environment.NewLine, ClusterLines(first).TakeLast(3)));

        // `status` asks any member over remoting, without joining: every member, its state and placement
        var (code, table) = await CliProcess.RunAsync(HostFixture.NewDataDirectory(), TimeSpan.FromSeconds(60),
            "status", "--member", $"akka.tcp://anomaly-actors@127.0.0.1:{ports[1]}");
        Assert.True(code == 0, table);
        Assert.Contains($"Site as akka.tcp://anomaly-actors@127.0.0.1:{ports[1]} sees it: 3 member(s)", table);
        Assert.All(ports, p => Assert.Matches($@"127\.0\.0\.1:{p}\s+Up\s+\d+\s+\d+\s+\d+", table));
        Assert.Contains("Intake: ", table);

        // Act: SIGKILL the third
        third.Process.Kill();
        await third.Process.WaitForExitAsync();

        // Assert: the survivors see it unreachable, then downed and removed
        var dead = $"127.0.0.1:{ports[2]}";
        foreach (var member in new[] { first, second })
        {
            await AwaitLineAsync(member, $"{dead} is unreachable", TimeSpan.FromSeconds(30));
            await AwaitLineAsync(member, $"{dead} was removed", TimeSpan.FromSeconds(60));
        }

        Assert.Contains("(2 up)", first.Output);
        // Right after a removal the member may still be rebalancing the dead member's shards; on a
        // machine loaded by the whole suite its answer has taken longer than status's default 30 s.
        var (jsonCode, json) = await CliProcess.RunAsync(HostFixture.NewDataDirectory(), TimeSpan.FromSeconds(90),
            "status", "--json", "--timeout", "60", "--member", $"akka.tcp://anomaly-actors@127.0.0.1:{ports[0]}");
        Assert.True(jsonCode == 0, $"{json}{Environment.NewLine}--- the member's output ---{Environment.NewLine}{string.Join(Environment.NewLine, first.Output.Split('\n').TakeLast(40))}");
        using (var answer = System.Text.Json.JsonDocument.Parse(json.Split('\n').Last(l => l.StartsWith('{'))))
        {
            var addresses = answer.RootElement.GetProperty("members").EnumerateArray().Select(m => m.GetProperty("address").GetString()).ToArray();
            Assert.Equal(2, addresses.Length);
            Assert.DoesNotContain(addresses, a => a!.EndsWith($":{ports[2]}", StringComparison.Ordinal));
        }

        // Nobody at an address: a clear failure, not a hang
        var (silentCode, silent) = await CliProcess.RunAsync(HostFixture.NewDataDirectory(), TimeSpan.FromSeconds(60),
            "status", "--timeout", "2", "--member", $"akka.tcp://anomaly-actors@127.0.0.1:{ports[2]}");
        Assert.Equal(1, silentCode);
        Assert.Contains("no answer from", silent);

        // ...and the same address joins again as a new incarnation
        using var again = StartMember(connection, ports[2], ports[0]);
        await AwaitLineAsync(again, "(3 up)", TimeSpan.FromSeconds(60));
        await AwaitLineAsync(first, $"{dead} is up", TimeSpan.FromSeconds(30), count: 2);

        // A graceful stop (SIGTERM) leaves the cluster: handed off and removed, never downed
        using (var term = Process.Start("kill", ["-TERM", again.Process.Id.ToString(CultureInfo.InvariantCulture)]))
        {
            await term.WaitForExitAsync();
        }

        using var exited = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await again.Process.WaitForExitAsync(exited.Token);
        Assert.Equal(0, again.Process.ExitCode);
        foreach (var member in new[] { first, second })
        {
            await AwaitLineAsync(member, $"{dead} was removed (it was Exiting", TimeSpan.FromSeconds(30));
        }

        Assert.Equal(1, first.Output.Split('\n').Count(l => l.Contains($"{dead} was downed", StringComparison.Ordinal)));
        foreach (var member in new[] { first, second })
        {
            member.Process.Kill();
        }
    }
}
