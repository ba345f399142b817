using Akka.Actor;
using Akka.Cluster.Tools.Singleton;

namespace AnomalyActors.Replication;

/// <summary>
/// The global layer's links, one per site, each a cluster singleton of the global layer's cluster: one
/// copy of a site's topics runs at a time, on the oldest member, and moves to another member when that
/// one leaves or is downed. The link keeps nothing in memory that matters: its offsets are on the
/// global Kafka, so the member taking it over goes on from the last acknowledged batch (at least once;
/// the global view drops repeats by alert id).
/// </summary>
public static class SiteLinks
{
    /// <param name="report">Told where each link runs and of problems an operator must hear of.</param>
    public static void Start(ActorSystem system, GlobalSettings settings, Action<string> report)
    {
        foreach (var site in settings.Sites)
        {
            system.ActorOf(
                ClusterSingletonManager.Props(
                    SiteLinkWorker.Props(settings.LinkOf(site), report),
                    PoisonPill.Instance,
                    ClusterSingletonManagerSettings.Create(system).WithSingletonName("link")),
                NameOf(site.Name));
        }
    }

    public static string NameOf(string site) => "site-link-" + site;
}

/// <summary>Runs one site's link while it lives; a link that fails is started again by its supervisor.</summary>
internal sealed class SiteLinkWorker : ReceiveActor
{
    private readonly SiteLinkSettings _settings;
    private readonly Action<string> _report;
    private SiteLink? _link;

    public SiteLinkWorker(SiteLinkSettings settings, Action<string> report)
    {
        _settings = settings;
        _report = report;
        Receive<LinkEnded>(ended => throw new InvalidOperationException($"The link of site {_settings.Site} stopped", ended.Failure));
    }

    public static Props Props(SiteLinkSettings settings, Action<string> report) =>
        Akka.Actor.Props.Create(() => new SiteLinkWorker(settings, report));

    protected override void PreStart()
    {
        _link = SiteLink.Start(_settings, _report);
        _report($"The link of site {_settings.Site} runs on this member ({Akka.Cluster.Cluster.Get(Context.System).SelfAddress})");
        var self = Self;
        _link.Completion.ContinueWith(t => self.Tell(new LinkEnded(t.Exception)), CancellationToken.None, TaskContinuationOptions.NotOnCanceled, TaskScheduler.Default);
    }

    protected override void PostStop()
    {
        // Stops copying before the next member's link starts: both would copy the same records.
        try
        {
            _link?.DisposeAsync().AsTask().Wait(TimeSpan.FromSeconds(35));
        }
        catch (AggregateException e)
        {
            _report($"The link of site {_settings.Site} ended with an error: {e.InnerException?.Message}");
        }
    }

    private sealed record LinkEnded(Exception? Failure);
}
