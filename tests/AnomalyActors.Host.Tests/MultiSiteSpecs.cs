using AnomalyActors.CrashTesting;
using Xunit;
using Xunit.Abstractions;

namespace AnomalyActors.Host.Tests;

/// <summary>
/// Two whole sites (each its own Kafka, node and devices with spikes) and the global layer as its
/// own process behind a WAN of network namespaces: one site's link cut for 30 s, then the global
/// process SIGKILLed mid-stream and started again.
/// </summary>
public sealed class MultiSiteSpecs(ITestOutputHelper output)
{
    [NamespaceFact]
    public async Task Should_keep_both_sites_alerting_through_a_wan_cut_and_show_every_alert_once_globally_after_the_heal_and_a_replicator_kill()
    {
        var result = await MultiSiteScenario.RunAsync(new MultiSiteOptions(Cut: TimeSpan.FromSeconds(30)));
        output.WriteLine(result.Log);

        // Both sites alerted locally while dc1 was cut off, and the global view showed dc1 behind.
        Assert.All(result.SiteAlertsDuringCut, site => Assert.True(site.Value > 0, $"{site.Key} raised no alert during the cut"));
        Assert.True(result.LaggingShownDuringCut, "the global view never showed the cut site as behind");

        // After the heal everything arrived, quickly; after the replicator's SIGKILL nothing is missing
        // or doubled (whatever it copied twice is one alert in the view).
        Assert.True(result.CatchUpSeconds < 10, $"caught up {result.CatchUpSeconds:0.0} s after the heal");
        Assert.True(result.AlertsAtSites > 20, $"only {result.AlertsAtSites} alerts were raised");
        Assert.Equal(0, result.AlertsMissingGlobal);
        Assert.Equal(0, result.AlertsDuplicatedGlobal);
        Assert.NotNull(result.KillToCaughtUpSeconds);
        Assert.NotEmpty(result.LatencyMs);
    }
}
