using Akka.Actor;
using Akka.Cluster.Sharding;
using AnomalyActors.Core.Queries;

namespace AnomalyActors.Node.Clustering;

public sealed record ClusterView(IReadOnlyList<MemberView> Members)
{
    public string Describe() =>
        string.Join("; ", Members.Select(m => $"{m.Address} {m.Status}: {m.SensorShards} sensor shards, {m.Sensors} sensors, {m.IntakePartitions} intake partitions"));

    /// <summary>Members and what sharding placed on each.</summary>
    public static async Task<ClusterView> QueryAsync(ActorSystem system, IActorRef sensors, IActorRef partitions, TimeSpan timeout)
    {
        var sensorStats = sensors.Ask<ClusterShardingStats>(new GetClusterShardingStats(timeout), timeout + TimeSpan.FromSeconds(1));
        var intakeStats = partitions.Ask<ClusterShardingStats>(new GetClusterShardingStats(timeout), timeout + TimeSpan.FromSeconds(1));
        await Task.WhenAll(sensorStats, intakeStats).ConfigureAwait(false);

        var state = Akka.Cluster.Cluster.Get(system).State;
        var members = state.Members
            .OrderBy(m => m.Address.ToString(), StringComparer.Ordinal)
            .Select(m =>
            {
                var s = sensorStats.Result.Regions.TryGetValue(m.Address, out var sensorRegion) ? sensorRegion.Stats : null;
                var i = intakeStats.Result.Regions.TryGetValue(m.Address, out var intakeRegion) ? intakeRegion.Stats : null;
                var status = m.Status + (state.Unreachable.Contains(m) ? ", unreachable" : string.Empty);
                return new MemberView(m.Address.ToString(), status, s?.Count ?? 0, s?.Values.Sum() ?? 0, i?.Values.Sum() ?? 0);
            })
            .ToArray();
        return new ClusterView(members);
    }
}
