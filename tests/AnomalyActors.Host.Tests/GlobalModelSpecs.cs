using AnomalyActors.CrashTesting;
using AnomalyActors.Models;
using AnomalyActors.Testing;
using Xunit;

namespace AnomalyActors.Host.Tests;

/// <summary>
/// Two sites archive into one shared root; a model trained on it is published there and both
/// sites' sensors take it: new streams alarm from their first readings, and their alerts say which
/// model decided them. Each site is a node of its own in this process.
/// </summary>
public sealed class GlobalModelSpecs
{
    private const int MatureStreams = 6;

    // Past the EWMA band's own warm-up (1,000), so the archive holds mature bands to train on.
    private const int MatureReadings = 1100;

    private static async Task<(AnomalyHost East, AnomalyHost West)> TwoSitesWithAnArchiveAsync(string shared, string westModels)
    {
        var east = await GlobalModelScenario.StartSiteAsync("east", shared, shared);
        var west = await GlobalModelScenario.StartSiteAsync("west", shared, westModels);
        var eastStreams = GlobalModelScenario.Streams("east", "mature", MatureStreams);
        var westStreams = GlobalModelScenario.Streams("west", "mature", MatureStreams);
        await Task.WhenAll(
            GlobalModelScenario.FeedAsync(east, eastStreams, MatureReadings, seed: 4),
            GlobalModelScenario.FeedAsync(west, westStreams, MatureReadings, seed: 5));
        await GlobalModelScenario.AwaitArchivedAsync(shared, [.. eastStreams, .. westStreams], MatureReadings, TimeSpan.FromSeconds(120));
        return (east, west);
    }

    /// <summary>A new stream at the host's site: 100 readings with a spike at reading 60; waits for its alert; returns the model it carries.</summary>
    private static async Task<string?> NewStreamAlertModelAsync(AnomalyHost host, string device)
    {
        var stream = $"{host.Settings.Archive.Site}/{device}/{GlobalModelScenario.Metric}";
        var readings = Enumerable.Range(0, 100).Select(i => (double)(10 + (i * 7 % 11))).ToArray();
        readings[60] = 110;
        var start = new DateTimeOffset(2026, 12, 2, 0, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds();
        await host.Node.IngestAsync(new Core.Commands.IngestReadings("probe-" + device, 0,
            [.. readings.Select((v, i) => new Core.Protocol.Reading(stream, start + (i * 1000L), v))]), TimeSpan.FromSeconds(30));
        (string AlertId, string Type, string? Model)? opened = null;
        await HostFixture.AwaitAsync(
            () => (opened = GlobalModelScenario.AlertModels(host).FirstOrDefault(a => a.AlertId.StartsWith(stream + "#", StringComparison.Ordinal) && a.Type == "open")) is { AlertId: not null },
            TimeSpan.FromSeconds(30),
            () => $"an alert of the new stream {stream}");
        return opened!.Value.Model;
    }

    [Fact]
    public async Task Should_switch_both_sites_to_a_published_model_within_ten_seconds_and_stamp_new_streams_alerts()
    {
        // Arrange
        var shared = ScratchDirectory.Create("anomaly-actors-shared-archive");
        var (east, west) = await TwoSitesWithAnArchiveAsync(shared, shared);
        await using var eastHost = east;
        await using var westHost = west;

        // Act: trained on both sites, published with the shipped poll interval.
        var (trained, _) = await GlobalModelScenario.TrainAndPublishAsync(shared);
        var version = trained.Model.Version;
        var switchSeconds = await GlobalModelScenario.AwaitSwitchAsync([east, west], version, TimeSpan.FromSeconds(10));
        var eastModel = await NewStreamAlertModelAsync(east, "new-1");
        var westModel = await NewStreamAlertModelAsync(west, "new-1");

        // Assert
        var type = Assert.Single(trained.Model.Types);
        Assert.Equal(GlobalModelScenario.Metric, type.Name);
        Assert.Equal(2 * MatureStreams, type.TrainedStreams);
        Assert.Equal(["east", "west"], trained.Sites.Select(s => s.Site).Order());
        Assert.True(switchSeconds < 10, $"switched in {switchSeconds:0.0} s");
        Assert.Equal(version, eastModel);
        Assert.Equal(version, westModel);
    }

    [Fact]
    public async Task Should_keep_the_last_model_at_a_site_cut_off_from_the_shared_root_and_switch_after_the_heal()
    {
        // Arrange: the west site sees the shared root through a link the test can cut, as a mount
        // of shared storage that stops answering; both sites on a first model.
        var shared = ScratchDirectory.Create("anomaly-actors-shared-archive");
        var westView = Path.Combine(ScratchDirectory.Create("anomaly-actors-west-view"), "shared");
        File.CreateSymbolicLink(westView, shared);
        var (east, west) = await TwoSitesWithAnArchiveAsync(shared, westView);
        await using var eastHost = east;
        await using var westHost = west;
        var (first, _) = await GlobalModelScenario.TrainAndPublishAsync(shared);
        await GlobalModelScenario.AwaitSwitchAsync([east, west], first.Model.Version, TimeSpan.FromSeconds(10));

        // Act: cut, publish a second model, look again after two of west's polls; heal.
        Cut(westView);
        var (second, _) = await GlobalModelScenario.TrainAndPublishAsync(shared, new TrainOptions { ArmAfter = 30 });
        await GlobalModelScenario.AwaitSwitchAsync([east], second.Model.Version, TimeSpan.FromSeconds(10));
        await Task.Delay(west.Settings.Models.PollInterval * 2);
        var westDuringTheCut = west.CurrentModel!.Model!.Version;
        var westAlertDuringTheCut = await NewStreamAlertModelAsync(west, "during-cut");
        Heal(westView, shared);
        var healedIn = await GlobalModelScenario.AwaitSwitchAsync([west], second.Model.Version, TimeSpan.FromSeconds(10));

        // Assert
        Assert.NotEqual(first.Model.Version, second.Model.Version);
        Assert.Equal(first.Model.Version, westDuringTheCut);
        Assert.Equal(first.Model.Version, westAlertDuringTheCut);
        Assert.Equal(second.Model.Version, await NewStreamAlertModelAsync(west, "after-heal"));
        Assert.True(healedIn < 10, $"switched {healedIn:0.0} s after the heal");
    }

    /// <summary>The link now leads nowhere, as an unreachable mount fails every access.</summary>
    private static void Cut(string view) => Relink(view, view + ".unreachable");

    private static void Heal(string view, string target) => Relink(view, target);

    private static void Relink(string view, string target)
    {
        File.Delete(view);
        File.CreateSymbolicLink(view, target);
    }
}
