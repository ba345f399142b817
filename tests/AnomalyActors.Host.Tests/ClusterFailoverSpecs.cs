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
/// A site's three `run` processes on Kafka (librdkafka's mock cluster) or mosquitto and a PostgreSQL
/// of their own, against one member alone over the same readings: disrupted while readings arrive,
/// the cluster ends with every reading scored once and, where each stream's order is kept, every
/// sensor's detector state equal to the single member's, byte for byte, and every anomaly under the
/// same alert id.
/// </summary>
[Collection(ClusterFailoverCollection.Name)]
public sealed class ClusterFailoverSpecs(ITestOutputHelper output)
{
    [Fact]
    public async Task Should_end_in_the_single_node_state_when_a_member_is_killed_mid_stream()
    {
        var report = await ClusterScenario.RunAsync(
            new ClusterOptions(Members: 3, Sensors: 10_000, ReadingsPerSensor: 60, Partitions: 16, Timeout: TimeSpan.FromMinutes(8), Archive: true, Notifications: true, ResultPartitions: 64),
            output.WriteLine);

        Assert.NotNull(report.FailoverSeconds);
        AssertExact(report);

        // The site's one dispatcher (a singleton) took every member's alerts: each change delivered
        // once, including the alerts the killed member's sensors repeated on the survivors.
        Assert.NotNull(report.Notifications);
        Assert.True(report.Notifications.Exact, $"notifications: {report.Notifications}");

        // The members' collectors share the result topics' partitions and one archive root; the
        // killed member's unfinished rolls are cleaned up and written again by whoever took over.
        Assert.NotNull(report.Archive);
        Assert.Empty(report.Archive.Problems());
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

        AssertExact(report);
    }

    [Fact]
    public async Task Should_end_in_the_single_node_state_when_the_member_holding_the_mqtt_session_is_killed()
    {
        // The member killed is the one subscribed: mosquitto re-sends what it had not acknowledged to
        // the member that takes the session over, and the intake recognises what it stored already.
        var report = await ClusterScenario.RunAsync(
            new ClusterOptions(
                Members: 3,
                Sensors: 10_000,
                ReadingsPerSensor: 60,
                Partitions: 16,
                Timeout: TimeSpan.FromMinutes(10),
                Source: ClusterSource.MqttSingleton,
                ReferenceSource: ClusterSource.Kafka),
            output.WriteLine);

        Assert.NotNull(report.FailoverSeconds);
        AssertExact(report);
    }

    [Fact]
    public async Task Should_score_every_reading_once_when_a_member_of_a_shared_subscription_is_killed_and_comes_back()
    {
        // mosquitto keeps the dead member's share of the messages for its session until it returns
        // under the same client id; the other members' shares go on meanwhile.
        var report = await ClusterScenario.RunAsync(
            new ClusterOptions(
                Members: 3,
                Sensors: 2_000,
                ReadingsPerSensor: 60,
                Disruption: ClusterDisruption.KillAndRestart,
                Partitions: 16,
                Timeout: TimeSpan.FromMinutes(8),
                Source: ClusterSource.MqttShared,
                ReferenceSource: ClusterSource.Kafka),
            output.WriteLine);

        Assert.NotNull(report.FailoverSeconds);
        AssertEveryReadingOnce(report);
    }

    [NamespaceFact]
    public async Task Should_down_a_cut_off_member_and_lose_nothing_when_it_rejoins_after_the_heal()
    {
        // The cut-off member still reaches PostgreSQL and Kafka: only the split brain resolver's
        // timing keeps its sensors from running on both sides.
        var report = await ClusterScenario.RunAsync(
            new ClusterOptions(
                Members: 3,
                Sensors: 2_000,
                ReadingsPerSensor: 100,
                Disruption: ClusterDisruption.Partition,
                Partitions: 16,
                Timeout: TimeSpan.FromMinutes(8),
                ProduceRate: 2_500),
            output.WriteLine);

        AssertExact(report);
    }

    /// <summary>Every reading scored once, and the single member's states and alert ids.</summary>
    private void AssertExact(ClusterReport report)
    {
        AssertEveryReadingOnce(report);
        Assert.Equal(0, report.StateMismatches);
        Assert.True(report.AlertIds > 0, "the readings should open episodes, or alert ids prove nothing");
    }

    private void AssertEveryReadingOnce(ClusterReport report)
    {
        output.WriteLine(report.ToJson());
        Assert.Equal(0, report.Lost);
        Assert.Equal(0, report.ScoredTwice);
        Assert.True(report.Passed, report.ToJson());
    }
}
