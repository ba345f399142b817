using System.Diagnostics;
using Akka.Actor;
using Akka.Configuration;
using AnomalyActors.Core.Commands;
using AnomalyActors.Core.Models;
using AnomalyActors.Detection;
using AnomalyActors.Node.Hosting;
using AnomalyActors.TestNode;
using AnomalyActors.Testing;
using Xunit;

namespace AnomalyActors.Node.Tests;

/// <summary>
/// The heart of durability: a node killed mid-stream with no graceful shutdown, restarted on the
/// same data and fed the rest of the input, ends bit-for-bit where an uninterrupted run ends,
/// with the same episodes (ids and positions) in its confirmed alert record, none lost; repeats
/// carry the same id and content.
/// </summary>
public abstract class ExactRecoverySpecsBase
{
    protected const int Sensors = 40;
    protected const int ReadingsPerSensor = 500;
    protected const int BatchSize = 400;
    protected const int Partitions = 4;
    protected const int SnapshotEvery = 40;

    protected static readonly TestInput Input = new(Sensors, ReadingsPerSensor, BatchSize);

    protected abstract Task<Config> NewStoreAsync(string dataDirectory);

    protected async Task<(SensorOutcome[] Outcomes, string[] Alerts)> UninterruptedAsync()
    {
        var dataDirectory = NodeFixture.NewDataDirectory();
        var node = await AnomalyNode.StartAsync(await NewStoreAsync(dataDirectory));
        await NodeFixture.FeedAsync(node, Input, 0, Input.Batches.Length);
        await NodeFixture.AwaitAsync(() => node.Metrics.ReadingsScored == Input.Total, TimeSpan.FromSeconds(120), "all readings scored");
        var outcomes = await NodeFixture.CollectAsync(node, Input.Keys);
        await node.StopAsync();
        return (outcomes, NodeFixture.AlertLines(dataDirectory));
    }

    protected async Task<SensorOutcome[]> AssertExactRecoveryInProcessAsync(int killAfterBatch)
    {
        var (expected, expectedAlerts) = await UninterruptedAsync();
        var dataDirectory = NodeFixture.NewDataDirectory();
        var config = await NewStoreAsync(dataDirectory);

        var doomed = await AnomalyNode.StartAsync(NodeFixture.Crashable(config), systemName: "doomed");
        await NodeFixture.FeedAsync(doomed, Input, 0, killAfterBatch + 1);
        // Batches in flight when the node dies: the feeder never sees their acknowledgement, but at
        // least the first is durable in every partition, so the resend must be recognised.
        var storedBefore = doomed.Metrics.ChunksStored;
        for (var b = killAfterBatch + 1; b < Math.Min(killAfterBatch + 4, Input.Batches.Length); b++)
        {
            doomed.Intake.Tell(new IngestReadings("test-source", b, Input.Batches[b]));
        }

        await NodeFixture.AwaitAsync(() => doomed.Metrics.ChunksStored >= storedBefore + Partitions, TimeSpan.FromSeconds(30), "an unacknowledged batch to become durable");
        await doomed.System.Terminate();

        var restarted = await AnomalyNode.StartAsync(config);
        await NodeFixture.FeedAsync(restarted, Input, killAfterBatch + 1, Input.Batches.Length);
        var actual = await NodeFixture.OutcomesAsync(restarted, expected.ToDictionary(o => o.Key, o => o.Offset));
        await restarted.StopAsync();

        AssertSameOutcomes(expected, actual, expectedAlerts, NodeFixture.AlertLines(dataDirectory));
        return actual;
    }

    protected static void AssertSameOutcomes(SensorOutcome[] expected, SensorOutcome[] actual, string[] expectedAlerts, string[] actualAlerts)
    {
        NodeFixture.AssertSameOutcomes(expected, actual);

        // Alerts are at least once: every expected alert is there, repeats carry known ids only.
        Assert.Equal(expectedAlerts.Distinct().Order(), actualAlerts.Distinct().Order());
    }
}

public sealed class ExactRecoveryOnSqliteSpecs : ExactRecoverySpecsBase
{
    protected override Task<Config> NewStoreAsync(string dataDirectory) =>
        Task.FromResult(TestNodeConfig.For(dataDirectory, partitions: Partitions, snapshotEvery: SnapshotEvery));

    [Theory]
    [InlineData(1)]
    [InlineData(12)]
    [InlineData(27)]
    [InlineData(44)]
    public Task Should_recover_exactly_after_a_crash_mid_stream(int killAfterBatch) =>
        AssertExactRecoveryInProcessAsync(killAfterBatch);

    [Theory]
    [InlineData(9)]
    [InlineData(26)]
    public async Task Should_recover_exactly_after_the_node_process_is_killed_with_sigkill(int killAfterAck)
    {
        var (expected, expectedAlerts) = await UninterruptedAsync();
        var dataDirectory = NodeFixture.NewDataDirectory();

        var lastAcked = await RunAndKillAsync(dataDirectory, killAfterAck);

        var restarted = await AnomalyNode.StartAsync(await NewStoreAsync(dataDirectory));
        await NodeFixture.FeedAsync(restarted, Input, lastAcked + 1, Input.Batches.Length, source: "crash-source");
        var actual = await NodeFixture.OutcomesAsync(restarted, expected.ToDictionary(o => o.Key, o => o.Offset));
        await restarted.StopAsync();

        AssertSameOutcomes(expected, actual, expectedAlerts, NodeFixture.AlertLines(dataDirectory));
    }

    /// <summary>Starts the node in its own process, waits for the given acknowledgement (and, with a switch, every sensor's adoption), SIGKILLs it.</summary>
    internal static async Task<int> RunAndKillAsync(string dataDirectory, int killAfterAck, int switchAtBatch = -1)
    {
        var testNode = Path.Combine(AppContext.BaseDirectory, "AnomalyActors.TestNode.dll");
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = AppContext.BaseDirectory,
        };
        foreach (var argument in new object[] { testNode, dataDirectory, 0, Sensors, ReadingsPerSensor, BatchSize, Partitions, SnapshotEvery })
        {
            start.ArgumentList.Add(Convert.ToString(argument, System.Globalization.CultureInfo.InvariantCulture)!);
        }

        if (switchAtBatch >= 0)
        {
            start.ArgumentList.Add(switchAtBatch.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var lastAcked = -1;
        var adopted = switchAtBatch < 0;
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        while (lastAcked < killAfterAck || !adopted)
        {
            var line = await process.StandardOutput.ReadLineAsync(timeout.Token)
                ?? throw new InvalidOperationException($"Test node exited early: {await stderr}");
            if (line.StartsWith("ACK ", StringComparison.Ordinal))
            {
                lastAcked = int.Parse(line[4..], System.Globalization.CultureInfo.InvariantCulture);
            }
            else if (line == "ADOPTED")
            {
                adopted = true;
            }
            else if (line.StartsWith("FAILED", StringComparison.Ordinal))
            {
                throw new InvalidOperationException(line);
            }
        }

        process.Kill(entireProcessTree: true);
        await process.WaitForExitAsync();
        Assert.True(lastAcked < Input.Batches.Length - 1, "The kill must land mid-stream.");
        return lastAcked;
    }
}

[Collection(PostgresCollection.Name)]
public sealed class ExactRecoveryOnPostgresSpecs(PostgresServer postgres) : ExactRecoverySpecsBase
{
    protected override async Task<Config> NewStoreAsync(string dataDirectory) =>
        TestNodeConfig.For(dataDirectory, provider: "postgresql", postgres: await CreateOrReuseAsync(dataDirectory), partitions: Partitions, snapshotEvery: SnapshotEvery);

    private readonly Dictionary<string, string> _databases = new();

    private async Task<string> CreateOrReuseAsync(string dataDirectory)
    {
        if (!_databases.TryGetValue(dataDirectory, out var connectionString))
        {
            connectionString = await postgres.CreateDatabaseAsync();
            _databases[dataDirectory] = connectionString;
        }

        return connectionString;
    }

    [Theory]
    [InlineData(4)]
    [InlineData(21)]
    [InlineData(40)]
    public Task Should_recover_exactly_after_a_crash_mid_stream(int killAfterBatch) =>
        AssertExactRecoveryInProcessAsync(killAfterBatch);
}

/// <summary>The same kill points with every episode transition journaled as well (sensor.journal-episodes = on).</summary>
public sealed class ExactRecoveryWithJournaledEpisodesSpecs : ExactRecoverySpecsBase
{
    protected override Task<Config> NewStoreAsync(string dataDirectory) =>
        Task.FromResult(TestNodeConfig.For(dataDirectory, partitions: Partitions, snapshotEvery: SnapshotEvery, journalEpisodes: true));

    [Theory]
    [InlineData(12)]
    [InlineData(44)]
    public async Task Should_recover_exactly_with_every_transition_in_the_journal_once(int killAfterBatch)
    {
        var actual = await AssertExactRecoveryInProcessAsync(killAfterBatch);

        Assert.All(actual, o => Assert.Equal(o.EpisodeTransitions, o.Episodes.Length));
        Assert.All(actual, o => Assert.Equal(o.Alerts, o.Episodes));
    }
}

/// <summary>
/// A global model switch in the middle of the stream: every sensor journals its adoption before it
/// scores with the model, so a node killed after the switch recovers to the state of a run that was
/// never interrupted, model version and prior included, with the same alerts.
/// </summary>
public sealed class ExactRecoveryAcrossAModelSwitchSpecs : ExactRecoverySpecsBase
{
    // The sensors' own alarms arm after 100 readings; the switch comes after 30 of each sensor's.
    private const int SwitchAtBatch = 3;

    private static readonly GlobalModel Model = TestModels.Switched;

    protected override Task<Config> NewStoreAsync(string dataDirectory) =>
        Task.FromResult(TestNodeConfig.For(dataDirectory, partitions: Partitions, snapshotEvery: SnapshotEvery));

    /// <summary>Batches before the switch, all scored; the model; then batches up to <paramref name="to"/>, every sensor having adopted it.</summary>
    private static async Task FeedAcrossTheSwitchAsync(AnomalyNode node, CurrentModel models, int to)
    {
        await NodeFixture.FeedAsync(node, Input, 0, SwitchAtBatch);
        await NodeFixture.AwaitAsync(() => node.Metrics.ReadingsScored == SwitchAtBatch * BatchSize, TimeSpan.FromSeconds(60), "the readings before the switch scored");
        models.Set(Model);
        await NodeFixture.FeedAsync(node, Input, SwitchAtBatch, to);
        await NodeFixture.AwaitAsync(() => node.Metrics.ModelAdoptions == Sensors, TimeSpan.FromSeconds(60), "every sensor adopting the model");
    }

    /// <summary>The run the crashed ones must end like: never interrupted, switched after the same batch.</summary>
    private async Task<(SensorOutcome[] Outcomes, string[] Alerts)> UninterruptedAcrossTheSwitchAsync()
    {
        var dataDirectory = NodeFixture.NewDataDirectory();
        var models = new CurrentModel();
        var node = await AnomalyNode.StartAsync(await NewStoreAsync(dataDirectory), models: models);
        await FeedAcrossTheSwitchAsync(node, models, Input.Batches.Length);
        await NodeFixture.AwaitAsync(() => node.Metrics.ReadingsScored == Input.Total, TimeSpan.FromSeconds(120), "all readings scored");
        var outcomes = await NodeFixture.CollectAsync(node, Input.Keys);
        await node.StopAsync();
        return (outcomes, NodeFixture.AlertLines(dataDirectory));
    }

    /// <summary>The model a restarted node has at once, as its puller loads the local copy at start.</summary>
    private static CurrentModel Reloaded()
    {
        var models = new CurrentModel();
        models.Set(Model);
        return models;
    }

    [Theory]
    [InlineData(5)]
    [InlineData(30)]
    public async Task Should_recover_exactly_after_a_crash_after_a_model_switch(int killAfterBatch)
    {
        // Arrange
        var (expected, expectedAlerts) = await UninterruptedAcrossTheSwitchAsync();

        // Act: the same up to a crash after the switch, then a node with the model (as its puller
        // loads the local copy at start) fed the rest.
        var dataDirectory = NodeFixture.NewDataDirectory();
        var config = await NewStoreAsync(dataDirectory);
        var second = new CurrentModel();
        var doomed = await AnomalyNode.StartAsync(NodeFixture.Crashable(config), systemName: "doomed", models: second);
        await FeedAcrossTheSwitchAsync(doomed, second, killAfterBatch + 1);
        await doomed.System.Terminate();
        var restarted = await AnomalyNode.StartAsync(config, models: Reloaded());
        await NodeFixture.FeedAsync(restarted, Input, killAfterBatch + 1, Input.Batches.Length);
        var actual = await NodeFixture.OutcomesAsync(restarted, expected.ToDictionary(o => o.Key, o => o.Offset));
        await restarted.StopAsync();

        // Assert: same states (the prior is in the detector state) and alerts (their model included).
        AssertSameOutcomes(expected, actual, expectedAlerts, NodeFixture.AlertLines(dataDirectory));
        Assert.Equal(0, restarted.Metrics.ModelAdoptions);
        Assert.Contains(expectedAlerts, line => line.Contains("\"model\":\"m-test-1\"", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Should_recover_exactly_after_the_node_process_is_killed_with_sigkill_after_a_model_switch()
    {
        // Arrange
        var (expected, expectedAlerts) = await UninterruptedAcrossTheSwitchAsync();

        // Act: the node in its own process switches, every sensor adopts, SIGKILL; restarted with the model.
        var dataDirectory = NodeFixture.NewDataDirectory();
        var lastAcked = await ExactRecoveryOnSqliteSpecs.RunAndKillAsync(dataDirectory, killAfterAck: SwitchAtBatch + 6, switchAtBatch: SwitchAtBatch);
        var restarted = await AnomalyNode.StartAsync(await NewStoreAsync(dataDirectory), models: Reloaded());
        await NodeFixture.FeedAsync(restarted, Input, lastAcked + 1, Input.Batches.Length, source: "crash-source");
        var actual = await NodeFixture.OutcomesAsync(restarted, expected.ToDictionary(o => o.Key, o => o.Offset));
        await restarted.StopAsync();

        // Assert
        AssertSameOutcomes(expected, actual, expectedAlerts, NodeFixture.AlertLines(dataDirectory));
        Assert.Equal(0, restarted.Metrics.ModelAdoptions);
    }
}
