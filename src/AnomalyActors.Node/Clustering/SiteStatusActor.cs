using Akka.Actor;
using AnomalyActors.Core.Queries;

namespace AnomalyActors.Node.Clustering;

/// <summary>
/// Answers <see cref="GetSiteStatus"/> on every member, at a fixed path (<see cref="Path"/>), so that
/// the <c>status</c> command can ask any member over remoting without joining the cluster.
/// </summary>
public sealed class SiteStatusActor : ReceiveActor
{
    public const string Name = "site-status";

    /// <summary>The actor's path under a member's address.</summary>
    public const string Path = "/user/" + Name;

    public SiteStatusActor(Func<Task<SiteStatus>> query)
    {
        ReceiveAsync<GetSiteStatus>(async _ =>
        {
            var sender = Sender;
            try
            {
                sender.Tell(await query().ConfigureAwait(false));
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                sender.Tell(new Status.Failure(e));
            }
        });
    }

    public static Props Props(Func<Task<SiteStatus>> query) => Akka.Actor.Props.Create(() => new SiteStatusActor(query));
}
