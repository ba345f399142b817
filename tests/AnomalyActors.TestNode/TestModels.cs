using AnomalyActors.Core.Models;
using AnomalyActors.Detection;

namespace AnomalyActors.TestNode;

/// <summary>The global model the tests switch their nodes to, the same in the test-node process and in the tests.</summary>
public static class TestModels
{
    /// <summary>For the test input's temperature streams: a band of 2.5 after 5 readings.</summary>
    public static readonly GlobalModel Switched = new("m-test-1", DateTimeOffset.UnixEpoch,
        [new StreamTypeModel("temperature", null, new DetectorPrior(2.5, 5), 40, 40_000, 15, 20, 25)]);
}
