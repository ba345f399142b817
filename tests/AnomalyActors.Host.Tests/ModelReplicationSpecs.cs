using System.Diagnostics;
using System.Globalization;
using AnomalyActors.Core.Models;
using AnomalyActors.Detection;
using AnomalyActors.Models;
using AnomalyActors.Testing;
using Xunit;

namespace AnomalyActors.Host.Tests;

/// <summary>
/// Two `run` processes forming one site's cluster, one of which cannot reach the shared storage
/// (its models root is not there, as a mount that is down): a model published in the storage
/// reaches it through the other member, verified, and it says so.
/// </summary>
[Collection(HostPostgresCollection.Name)]
public sealed class ModelReplicationSpecs(PostgresServer postgres)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(90);

    private static CliProcess StartMember(string connection, int port, int seedPort, string modelsRoot)
    {
        var dataDirectory = HostFixture.NewDataDirectory();
        var info = new ProcessStartInfo("dotnet") { ArgumentList = { CliProcess.Program, "run", "--no-mqtt", "--no-web" } };
        info.Environment["ANOMALY_ACTORS_DATA_DIR"] = dataDirectory;
        info.Environment["ANOMALY_ACTORS_PERSISTENCE"] = "postgresql";
        info.Environment["ANOMALY_ACTORS_POSTGRES"] = connection;
        info.Environment["ANOMALY_ACTORS_PORT"] = port.ToString(CultureInfo.InvariantCulture);
        info.Environment["ANOMALY_ACTORS_SEEDS"] = $"akka.tcp://anomaly-actors@127.0.0.1:{seedPort}";
        info.Environment["ANOMALY_ACTORS_MODELS_ROOT"] = modelsRoot;
        return CliProcess.Start(dataDirectory, info);
    }

    private static async Task AwaitLineAsync(CliProcess member, string text)
    {
        await HostFixture.AwaitAsync(
            () => member.Output.Contains(text, StringComparison.Ordinal) || member.Process.HasExited,
            Wait,
            () => $"'{text}' in the member's output:{Environment.NewLine}{member.Output}");
        Assert.False(member.Process.HasExited, $"the member exited:{Environment.NewLine}{member.Output}");
    }

    [Fact]
    public async Task Should_bring_a_published_model_to_a_member_that_cannot_reach_the_shared_storage()
    {
        // Arrange
        var connection = await postgres.CreateDatabaseAsync();
        var shared = ScratchDirectory.Create("anomaly-actors-shared-archive");
        var unreachable = Path.Combine(ScratchDirectory.Create("anomaly-actors-unreachable"), "mount");
        var ports = new[] { HostFixture.FreePortNumber(), HostFixture.FreePortNumber() };
        using var reaching = StartMember(connection, ports[0], ports[0], shared);
        await AwaitLineAsync(reaching, "(1 up)");
        using var cutOff = StartMember(connection, ports[1], ports[0], unreachable);
        await AwaitLineAsync(reaching, "(2 up)");
        await AwaitLineAsync(cutOff, "(2 up)");
        await AwaitLineAsync(cutOff, "cannot be reached");
        var created = DateTimeOffset.UtcNow;
        var types = new[] { new StreamTypeModel("temperature", null, new DetectorPrior(2.5, 20), 10, 10_000, 18, 21, 24) };
        var model = new GlobalModel(ModelStore.VersionFor(created, types), created, types);

        // Act
        ModelStore.InArchive(shared).Publish(model, [new SiteRange("local", created.AddHours(-1), created, 10_000)]);

        // Assert: the member that reaches the storage takes it, the other from it.
        await AwaitLineAsync(reaching, $"model {model.Version} in use (was none)");
        await AwaitLineAsync(cutOff, $"model {model.Version} in use (was none), from another member of the cluster");
        Assert.DoesNotContain("from another member", reaching.Output, StringComparison.Ordinal);
    }
}
