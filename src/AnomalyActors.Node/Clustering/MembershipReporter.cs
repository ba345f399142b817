using Akka.Actor;
using Akka.Cluster;

namespace AnomalyActors.Node.Clustering;

/// <summary>
/// Reports every change of the cluster's membership as one line (a member up, leaving, gone,
/// downed by the split brain resolver, unreachable or reachable again), so an operator sees what
/// the cluster did without reading Akka's log.
/// </summary>
public sealed class MembershipReporter : ReceiveActor
{
    private readonly Akka.Cluster.Cluster _cluster = Akka.Cluster.Cluster.Get(Context.System);

    // Counted from the events themselves: the cluster's current state may already be ahead of them.
    private readonly HashSet<UniqueAddress> _up = [];

    public MembershipReporter(Action<string> report)
    {
        Receive<ClusterEvent.MemberUp>(e =>
        {
            _up.Add(e.Member.UniqueAddress);
            report($"Cluster: {Describe(e.Member)} is up ({_up.Count} up)");
        });
        Receive<ClusterEvent.MemberLeft>(e => report($"Cluster: {Describe(e.Member)} is leaving"));
        Receive<ClusterEvent.MemberExited>(e => report($"Cluster: {Describe(e.Member)} has handed off and exited"));
        Receive<ClusterEvent.MemberDowned>(e => report($"Cluster: {Describe(e.Member)} was downed"));
        Receive<ClusterEvent.MemberRemoved>(e =>
        {
            _up.Remove(e.Member.UniqueAddress);
            report($"Cluster: {Describe(e.Member)} was removed (it was {e.PreviousStatus}; {_up.Count} up)");
        });
        Receive<ClusterEvent.UnreachableMember>(e => report($"Cluster: {Describe(e.Member)} is unreachable"));
        Receive<ClusterEvent.ReachableMember>(e => report($"Cluster: {Describe(e.Member)} is reachable again"));
        Receive<ClusterEvent.IClusterDomainEvent>(_ => { });
    }

    public static Props Props(Action<string> report) => Akka.Actor.Props.Create(() => new MembershipReporter(report));

    protected override void PreStart() =>
        _cluster.Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents,
            typeof(ClusterEvent.IMemberEvent), typeof(ClusterEvent.IReachabilityEvent));

    protected override void PostStop() => _cluster.Unsubscribe(Self);

    private string Describe(Member member) =>
        $"member {member.Address}{(member.Roles.Count > 0 ? $" [{string.Join(",", member.Roles)}]" : string.Empty)}{(member.Address == _cluster.SelfAddress ? " (this node)" : string.Empty)}";
}
