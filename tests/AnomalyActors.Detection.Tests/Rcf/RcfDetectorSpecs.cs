using AnomalyActors.Detection.Rcf;
using Xunit;

namespace AnomalyActors.Detection.Tests.Rcf;

public sealed class RcfDetectorSpecs
{
    private static double Signal(int i, Random random) =>
        (10 * Math.Sin(i * 2 * Math.PI / 100)) + random.NextDouble();

    private static List<double> Run(RcfDetector detector, int from, int to, int noiseSeed)
    {
        var random = new Random(noiseSeed);
        var scores = new List<double>();
        for (var i = 0; i < to; i++)
        {
            var v = Signal(i, random);
            if (i < from)
            {
                continue;
            }

            detector.Update(i * 1000L, v);
            scores.Add(detector.LastScore);
        }

        return scores;
    }

    [Fact]
    public void Should_produce_identical_scores_for_the_same_seed()
    {
        var a = Run(new RcfDetector(new RcfOptions(trees: 20, seed: 7)), 0, 2000, 1);
        var b = Run(new RcfDetector(new RcfOptions(trees: 20, seed: 7)), 0, 2000, 1);
        var c = Run(new RcfDetector(new RcfOptions(trees: 20, seed: 8)), 0, 2000, 1);
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
    }

    [Fact]
    public void Should_replay_bit_for_bit_after_state_is_restored()
    {
        var options = new RcfOptions(trees: 20, shingleSize: 4, seed: 3);
        var original = new RcfDetector(options);
        var random = new Random(5);
        for (var i = 0; i < 3000; i++)
        {
            original.Update(i, Signal(i, random));
        }

        using var buffer = new MemoryStream();
        original.WriteState(new BinaryWriter(buffer));
        buffer.Position = 0;
        var restored = new RcfDetector(options);
        restored.ReadState(new BinaryReader(buffer));
        Assert.Equal(original.Count, restored.Count);

        for (var i = 3000; i < 5000; i++)
        {
            var v = Signal(i, random) + (i % 700 == 0 ? 40 : 0);
            var x = original.Update(i, v);
            var y = restored.Update(i, v);
            Assert.Equal(BitConverter.DoubleToInt64Bits(original.LastScore), BitConverter.DoubleToInt64Bits(restored.LastScore));
            Assert.Equal(x, y);
        }
    }

    [Fact]
    public void Should_flag_a_spike_and_attribute_it_to_the_latest_position_upwards()
    {
        var detector = new RcfDetector(new RcfOptions(trees: 50, shingleSize: 4, seed: 11));
        var random = new Random(2);
        for (var i = 0; i < 3000; i++)
        {
            var quiet = detector.Update(i, Signal(i, random));
            Assert.False(quiet.OutOfBand && i > 1000 && detector.LastScore < 1.0);
        }

        var spike = detector.Update(3000, Signal(3000, random) + 50);
        Assert.True(spike.OutOfBand, $"score {detector.LastScore} threshold {detector.LastThreshold}");
        Assert.InRange(spike.Grade, 0.0, 1.0);
        Assert.True(spike.Grade > 0);
        var high = detector.AttributionHigh.ToArray();
        var low = detector.AttributionLow.ToArray();
        Assert.Equal(detector.LastScore, high.Sum() + low.Sum(), 9);
        Assert.Equal(3, Array.IndexOf(high, high.Max()));
    }

    [Fact]
    public void Should_score_multivariate_points_with_attribution_adding_up_to_the_score()
    {
        var forest = new RandomCutForest(dimensions: 2, trees: 30, sampleSize: 128, seed: 1);
        var random = new Random(4);
        var point = new double[2];
        for (var i = 0; i < 2000; i++)
        {
            point[0] = 50 + random.NextDouble();
            point[1] = 1500 + (10 * random.NextDouble());
            forest.Update(point);
        }

        // Frequency normal, RPM far too low: the low side of dimension 1 must carry the score.
        double[] odd = [50.5, 900];
        var high = new double[2];
        var low = new double[2];
        var score = forest.Score(odd);
        forest.Attribution(odd, high, low);
        Assert.Equal(score, high.Sum() + low.Sum(), 9);
        Assert.True(low[1] > 0.9 * score, $"low RPM part {low[1]} of {score}");
        Assert.True(score > 2 * forest.Score([50.5, 1505]));
    }

    [Fact]
    public void Should_feed_several_metrics_as_one_point()
    {
        var detector = new RcfDetector(new RcfOptions(trees: 20, metrics: 2, shingleSize: 2, seed: 9));
        var random = new Random(1);
        for (var i = 0; i < 1500; i++)
        {
            detector.Update(i, [50 + random.NextDouble(), 1500 + (10 * random.NextDouble())]);
        }

        var result = detector.Update(1500, [50.5, 200]);
        Assert.True(result.OutOfBand);
        var low = detector.AttributionLow.ToArray();
        Assert.Equal(3, Array.IndexOf(low, low.Max())); // latest position (1), metric 1 -> 1 * 2 + 1
        Assert.Throws<ArgumentException>(() => detector.Update(1501, [1.0]));
    }

    [Fact]
    public void Should_not_allocate_per_reading_in_steady_state()
    {
        TestSupport.AssertAllocatesNothing(() =>
        {
            var detector = new RcfDetector(new RcfOptions(trees: 50, shingleSize: 8, seed: 1));
            var random = new Random(3);
            for (var i = 0; i < 3000; i++)
            {
                detector.Update(i, Signal(i, random));
            }

            return () =>
            {
                for (var i = 3000; i < 6000; i++)
                {
                    detector.Update(i, Signal(i, random) + (i % 500 == 0 ? 30 : 0));
                }
            };
        });
    }

    [Fact]
    public void Should_emit_no_score_before_output_after()
    {
        var detector = new RcfDetector(new RcfOptions(trees: 10, sampleSize: 64, outputAfter: 16));
        for (var i = 0; i < 16; i++)
        {
            Assert.Equal(DetectorScore.None, detector.Update(i, i));
            Assert.False(detector.Ready);
        }

        detector.Update(16, 100);
        Assert.True(detector.Ready);
        Assert.True(detector.LastScore > 0);
        Assert.Equal("rcf", detector.Kind);
    }

    [Fact]
    public void Should_reject_invalid_options_and_readings()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new RcfOptions(trees: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new RcfOptions(sampleSize: 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => new RcfOptions(shingleSize: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new RcfOptions(timeDecay: -1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new RcfThresholdOptions(zFactor: 0));
        var detector = new RcfDetector(new RcfOptions(trees: 5));
        Assert.Throws<ArgumentOutOfRangeException>(() => detector.Update(0, double.NaN));
        Assert.Equal(0, detector.Count);
    }

    [Fact]
    public void Should_default_time_decay_to_a_tenth_of_the_inverse_sample_size()
    {
        var options = new RcfOptions(sampleSize: 256);
        Assert.Equal(1.0 / 2560, options.TimeDecay);
        Assert.Equal(64, options.OutputAfter);
        Assert.Equal(50, options.Trees);
    }
}
