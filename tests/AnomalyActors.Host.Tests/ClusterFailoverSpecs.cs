using AnomalyActors.CrashTesting;
using Xunit;
using Xunit.Abstractions;

namespace AnomalyActors.Host.Tests;

/// <summary>Runs alone: three members, PostgreSQL and Kafka on two cores leave nothing for other tests.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ClusterFailoverCollection
{
    public const string Name = "cluster-failover";
}

/// <summary>
/// A site's three `run` processes on Kafka (librdkafka's mock cluster) and a PostgreSQL of their own,
/// against one member alone over the same readings:
/// disrupted while readings arrive, the cluster ends with every sensor's detector state equal to the
/// single member's, byte for byte, every reading scored, and every anomaly under the same alert id.
/// </summary>
[Collection(ClusterFailoverCollection.Name)]
public sealed class ClusterFailoverSpecs(ITestOutputHelper output)
{
    [Fact]
    public async Task Should_end_in_the_single_node_state_when_a_member_is_killed_mid_stream()
    {
        var report = await ClusterScenario.RunAsync(
            new ClusterOptions(Members: 3, Sensors: 10_000, ReadingsPerSensor: 60, Partitions: 16, Timeout: TimeSpan.FromMinutes(8)),
            output.WriteLine);

        output.WriteLine(report.ToJson());
        Assert.NotNull(report.FailoverSeconds);
        Assert.Equal(0, report.Lost);
        Assert.Equal(0, report.ScoredTwice);
        Assert.Equal(0, report.StateMismatches);
        Assert.True(report.AlertIds > 0, "the readings should open episodes, or alert ids prove nothing");
        Assert.True(report.Passed, report.ToJson());
    }

    [Fact]
    public async Task Should_lose_nothing_and_keep_every_alert_id_through_a_rolling_restart()
    {
        // Paced so that readings still arrive while each member in turn leaves and comes back.
        var report = await ClusterScenario.RunAsync(
            new ClusterOptions(
                Members: 3,
                Sensors: 2_000,
                ReadingsPerSensor: 100,
                Disruption: ClusterDisruption.RollingRestart,
                Partitions: 16,
                Timeout: TimeSpan.FromMinutes(8),
                ProduceRate: 2_500),
            output.WriteLine);

        output.WriteLine(report.ToJson());
        Assert.Equal(0, report.Lost);
        Assert.Equal(0, report.ScoredTwice);
        Assert.Equal(0, report.StateMismatches);
        Assert.True(report.AlertIds > 0, "the readings should open episodes, or alert ids prove nothing");
        Assert.True(report.Passed, report.ToJson());
    }
}
