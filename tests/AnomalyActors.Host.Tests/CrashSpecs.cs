using AnomalyActors.CrashTesting;
using AnomalyActors.Mqtt.Simulation;
using Xunit;
using Xunit.Abstractions;

namespace AnomalyActors.Host.Tests;

/// <summary>
/// The node as users run it (its own process), SIGKILLed twice while devices publish QoS 1 as fast as
/// the broker takes them: every published reading is scored exactly once and every anomaly keeps one
/// alert id, with the broker outside the node (it redelivers what was not acknowledged) and inside
/// it (it dies with the node; the devices resend).
/// </summary>
public sealed class CrashSpecs(ITestOutputHelper output)
{
    /// <param name="archive">
    /// With the archive on (rolls several times a second, so kills land while files are written and
    /// renamed), its files must also hold every reading and every alert exactly once.
    /// </param>
    [Theory]
    [InlineData("mosquitto", DeviceKind.Demo, false)]
    [InlineData("embedded", DeviceKind.Fan, true)]
    public async Task Should_score_every_reading_once_after_sigkills_at_full_speed(string broker, DeviceKind kind, bool archive)
    {
        var report = await CrashScenario.RunAsync(
            new CrashOptions(broker, Kills: 2, Devices: 10, ReadingsPerDevice: 3_000, Kind: kind, Timeout: TimeSpan.FromMinutes(4), Archive: archive),
            output.WriteLine);

        output.WriteLine(report.ToJson());
        Assert.Equal(2, report.Kills);
        Assert.False(report.TimedOut, "the run did not settle in time");
        Assert.Equal(0, report.Failed);
        Assert.Equal(0, report.ScoredTwice);
        Assert.Equal(0, report.Lost);
        Assert.Equal(0, report.AnomaliesUnderTwoIds);
        Assert.Equal(0, report.ClosedBeforeOpened);
        if (archive)
        {
            Assert.NotNull(report.Archive);
            Assert.Empty(report.Archive.Problems());
            Assert.True(report.Archive.Files > 2, report.ToJson());
        }

        Assert.True(report.Exact, report.ToJson());
    }
}
