using Akka.Cluster.Sharding;
using AnomalyActors.Core.Protocol;

namespace AnomalyActors.Node.Sharding;

/// <summary>
/// The one message extractor of the node: entity ids come from the marker interfaces, so adding a
/// message never touches routing code.
/// </summary>
public sealed class AnomalyMessageExtractor : HashCodeMessageExtractor
{
    public AnomalyMessageExtractor(int maxShards)
        : base(maxShards)
    {
    }

    public override string EntityId(object message) => message switch
    {
        IWithSensorId m => m.SensorId,
        IWithPartitionId m => m.PartitionId.ToString(System.Globalization.CultureInfo.InvariantCulture),
        _ => null!,
    };
}
