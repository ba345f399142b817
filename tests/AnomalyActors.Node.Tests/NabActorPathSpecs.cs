using System.Globalization;
using Akka.Configuration;
using AnomalyActors.Core.Commands;
using AnomalyActors.Core.Events;
using AnomalyActors.Core.Protocol;
using AnomalyActors.Core.State;
using AnomalyActors.Detection;
using AnomalyActors.Detection.Rcf;
using AnomalyActors.Nab;
using AnomalyActors.Node.Hosting;
using AnomalyActors.TestNode;
using Xunit;
using Xunit.Abstractions;

namespace AnomalyActors.Node.Tests;

/// <summary>
/// Scores through the actor path equal scores from the pure library. NAB files of different categories
/// are replayed through a real node (one stream per file, the NAB best detector or plain RCF as the default) and each sensor's
/// detector state and episodes are compared with the library detector and an <see cref="EpisodeTracker"/> run
/// over the same rows.
/// </summary>
public sealed class NabActorPathSpecs(ITestOutputHelper output)
{
    private static readonly string[] Files =
    [
        "artificialWithAnomaly/art_daily_jumpsup.csv",
        "realTraffic/speed_7578.csv",
        "realAdExchange/exchange-3_cpc_results.csv",
    ];

    private sealed record Series(string Key, long[] TimestampsMs, double[] Values);

    private sealed record LibraryRun(byte[] State, long EpisodesOpened, string[] Episodes);

    [Fact]
    public Task Should_end_with_the_library_detector_state_and_episodes_for_NAB_files_replayed_through_a_node() =>
        ReplayAndCompare(
            """
            type = rcf-likelihood
            threshold = 0.4998345213635387
            """,
            LikelihoodRcfOptions.NabBest);

    [Fact]
    public Task Should_end_with_the_library_state_and_episodes_for_plain_rcf_too() =>
        ReplayAndCompare("type = rcf", RcfOptions.Default);

    private async Task ReplayAndCompare(string detectorBlock, DetectorOptions expectedOptions)
    {
        // Arrange
        var series = Files.Select(Load).ToArray();
        var overrides = ConfigurationFactory.ParseString($$"""
            anomaly-actors.detection {
              default = [under-test]
              detectors.under-test {
                {{detectorBlock}}
              }
            }
            """).WithFallback(TestNodeConfig.For(NodeFixture.NewDataDirectory(), snapshotEvery: 1000));
        var node = await AnomalyNode.StartAsync(overrides);
        try
        {
            var options = Assert.Single(node.Settings.Detection.Defaults);
            Assert.Equal(expectedOptions, options);
            var closeAfter = node.Settings.Sensor.CloseAfterInBand;

            // Act: the files interleaved row by row, 500 readings per acknowledged batch.
            var readings = Interleave(series);
            var seq = 0L;
            foreach (var batch in readings.Chunk(500))
            {
                var reply = await node.IngestAsync(new IngestReadings("nab-replay", seq++, batch), TimeSpan.FromSeconds(30));
                Assert.IsType<ReadingsAccepted>(reply);
            }

            await NodeFixture.AwaitAsync(
                async () => (await NodeFixture.QueryAsync(node, series.Select(s => s.Key)))
                    .All(v => v.ReadingsScored == series.Single(s => s.Key == v.SensorId).Values.Length),
                TimeSpan.FromSeconds(45),
                "every NAB stream to be scored");
            var outcomes = (await NodeFixture.CollectAsync(node, series.Select(s => s.Key))).ToDictionary(o => o.Key);

            // Assert
            foreach (var s in series)
            {
                var expected = RunLibrary(s, expectedOptions.Create(), closeAfter);
                var actual = outcomes[s.Key];
                Assert.True(expected.EpisodesOpened > 0, $"{s.Key}: the library opens no episode, so the comparison would be vacuous");
                Assert.Equal(Convert.ToHexString(expected.State), actual.DetectorState);
                Assert.Equal(expected.EpisodesOpened, actual.EpisodesOpened);
                Assert.Equal(expected.Episodes, actual.Alerts.Select(WithoutOffset).ToArray());
                output.WriteLine($"{expectedOptions.Kind} {s.Key}: {s.Values.Length} rows, {actual.EpisodesOpened} episodes, {expected.State.Length} state bytes, identical");
            }
        }
        finally
        {
            await node.StopAsync();
        }
    }

    /// <summary>The pure library: the detector and an episode tracker over the rows, no actors.</summary>
    private static LibraryRun RunLibrary(Series s, IDetector detector, int closeAfterInBand)
    {
        var tracker = new EpisodeTracker(closeAfterInBand);
        var episodes = new List<string>();
        for (var i = 0; i < s.Values.Length; i++)
        {
            var score = detector.Update(s.TimestampsMs[i], s.Values[i]);
            switch (tracker.Step(s.Key, i, s.TimestampsMs[i], s.Values[i], score))
            {
                case EpisodeOpened o:
                    episodes.Add($"open {o.AlertId} v={BitConverter.DoubleToInt64Bits(o.Value)}");
                    break;
                case EpisodeClosed c:
                    episodes.Add($"close {c.AlertId} n={c.OutOfBandReadings}");
                    break;
            }
        }

        using var buffer = new MemoryStream();
        using (var writer = new BinaryWriter(buffer))
        {
            detector.WriteState(writer);
        }

        return new LibraryRun(buffer.ToArray(), tracker.EpisodesOpened, episodes.ToArray());
    }

    /// <summary>Alert lines carry partition offsets, which the library run does not have: "open 1 @812 v=..." -> "open 1 v=...".</summary>
    private static string WithoutOffset(string line)
    {
        var parts = line.Split(' ');
        return string.Join(' ', parts.Where(p => !p.StartsWith('@')));
    }

    private static Reading[] Interleave(Series[] series)
    {
        var result = new List<Reading>();
        var longest = series.Max(s => s.Values.Length);
        for (var i = 0; i < longest; i++)
        {
            foreach (var s in series)
            {
                if (i < s.Values.Length)
                {
                    result.Add(new Reading(s.Key, s.TimestampsMs[i], s.Values[i]));
                }
            }
        }

        return result.ToArray();
    }

    private static Series Load(string file)
    {
        // The shared lookup throws when the vendored corpus is missing, so this fails rather than skips.
        var path = Path.Combine(NabCorpus.DefaultRoot(), "data", file);
        Assert.True(File.Exists(path), $"NAB file {path} is missing.");
        var ts = new List<long>();
        var values = new List<double>();
        foreach (var line in File.ReadLines(path).Skip(1))
        {
            if (line.Length == 0)
            {
                continue;
            }

            var comma = line.IndexOf(',');
            var when = DateTime.ParseExact(line[..comma], "yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture,
                DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal);
            ts.Add(new DateTimeOffset(when, TimeSpan.Zero).ToUnixTimeMilliseconds());
            values.Add(double.Parse(line[(comma + 1)..], NumberStyles.Float, CultureInfo.InvariantCulture));
        }

        // site/device/metric: "nab/<category>/<file name without .csv>".
        var key = "nab/" + file.Replace(".csv", string.Empty, StringComparison.Ordinal);
        return new Series(key, ts.ToArray(), values.ToArray());
    }
}
