using Akka.Actor;
using Akka.TestKit.Xunit2;
using AnomalyActors.Core.Commands;
using AnomalyActors.Core.Results;
using AnomalyActors.Core.State;
using AnomalyActors.Detection;
using AnomalyActors.Node.Actors;
using AnomalyActors.Node.Settings;
using Xunit;

namespace AnomalyActors.Node.Tests;

/// <summary>A sensor hands its scored readings to the dashboard's tap only while the tap watches its stream.</summary>
public sealed class ScoredReadingsTapSpecs : TestKit
{
    private const string Sensor = "site-1/dev-1/temp";

    private static readonly SensorSettings Settings = new(
        CloseAfterInBand: 3,
        SnapshotEveryReadings: 1_000,
        SnapshotInterval: TimeSpan.FromMinutes(10),
        PassivateIdleAfter: TimeSpan.FromMinutes(10),
        RedeliveryTimeout: TimeSpan.FromSeconds(30),
        JournalEpisodes: false);

    public ScoredReadingsTapSpecs()
        : base("akka.persistence.journal.plugin = \"akka.persistence.journal.inmem\"\nakka.persistence.snapshot-store.plugin = \"akka.persistence.snapshot-store.inmem\"")
    {
    }

    [Fact]
    public void Should_record_the_readings_of_a_watched_stream_only_while_it_is_watched()
    {
        var tap = new RecordingTap();
        var results = CreateTestProbe();
        var detectors = new DetectorSet([new ThresholdOptions(min: 0, max: 10).Create()], "thr");
        var wiring = new SensorWiring(Settings, Durable: false, new ResultsSink(results.Ref, TakesEnriched: false), new NodeMetrics(), tap);
        var sensor = Sys.ActorOf(SensorActor.Props(Sensor, detectors, wiring));
        var partition = CreateTestProbe();

        // The sensor answers a query after the slices before it: each step is done when it answers.
        void Scored(ScoreReadings slice)
        {
            sensor.Tell(slice, partition.Ref);
            sensor.Tell(new Core.Queries.GetSensorState(Sensor), TestActor);
            ExpectMsg<Core.Queries.SensorStateView>();
        }

        Scored(Slice(0, -1, 1.0, 2.0));
        tap.Watching = true;
        Scored(Slice(2, 1, 3.0, 42.0));
        tap.Watching = false;
        Scored(Slice(4, 3, 4.0));

        var recorded = tap.Recorded.ToArray();
        Assert.Equal([2L, 3L], recorded.Select(r => r.Offset));
        Assert.Equal([3.0, 42.0], recorded.Select(r => r.Value));
        Assert.True(recorded[1].OutOfBand);
        Assert.Equal(1, recorded[1].Episode);
        // The sink takes no enriched records, so nothing but the alert went to it.
        results.ExpectMsg<Core.Events.EpisodeOpened>();
        results.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
    }

    private static ScoreReadings Slice(long first, long previous, params double[] values) =>
        new(Sensor, 2, first, previous, values.Select((_, i) => 1_000L * (first + i)).ToArray(), values);

    private sealed class RecordingTap : IScoredReadingsTap
    {
        public volatile bool Watching;
        public readonly System.Collections.Concurrent.ConcurrentQueue<ScoredReading> Recorded = new();

        public bool IsWatched(string sensorId) => Watching && sensorId == Sensor;

        public void Record(string sensorId, IReadOnlyList<ScoredReading> readings)
        {
            foreach (var reading in readings)
            {
                Recorded.Enqueue(reading);
            }
        }
    }
}
