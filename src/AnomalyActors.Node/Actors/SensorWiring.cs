using Akka.Actor;
using AnomalyActors.Node.Settings;

namespace AnomalyActors.Node.Actors;

/// <summary>How every SensorActor of a node is connected, decided once where the node is composed.</summary>
/// <param name="Durable">Whether a snapshot store exists (not with persistence provider none).</param>
/// <param name="Tap">Where watched streams' scored readings also go (the dashboard), or null.</param>
/// <param name="Models">The global model sensors are to use, or null where the node takes none.</param>
public sealed record SensorWiring(
    SensorSettings Settings,
    bool Durable,
    ResultsSink Results,
    NodeMetrics Metrics,
    AnomalyActors.Core.Results.IScoredReadingsTap? Tap = null,
    AnomalyActors.Core.Models.CurrentModel? Models = null);

/// <summary>The node's results sink and whether it takes the enriched record of every scored reading.</summary>
/// <param name="Archive">Where sensors record their scored readings themselves (the local archive), or null.</param>
public sealed record ResultsSink(IActorRef Actor, bool TakesEnriched, AnomalyActors.Core.Results.IResultsArchive? Archive = null);
