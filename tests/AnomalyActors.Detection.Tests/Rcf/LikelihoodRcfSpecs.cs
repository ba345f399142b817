using AnomalyActors.Detection.Rcf;
using AnomalyActors.Detection.Tests.Likelihood;
using Xunit;

namespace AnomalyActors.Detection.Tests.Rcf;

public sealed class LikelihoodRcfSpecs
{
    /// <summary>
    /// The NAB harness's <c>best</c> as it was composed in the harness before it became a library detector
    /// (commit 9068397, NabDetectors.BestStream), kept here verbatim as the reference.
    /// </summary>
    private sealed class HarnessComposition
    {
        private const int Learning = 150;

        private readonly RcfDetector _rcf = new(RcfOptions.Default);
        private readonly AnomalyLikelihood _likelihood = new(new AnomalyLikelihoodOptions(
            learningPeriod: Learning, estimationSamples: 150, averagingWindow: 40));
        private readonly RangeNovelty _range = new(tolerance: 0.05, warmup: Learning);
        private readonly DetectionSpacing _spacing = new(trigger: 0.5, hold: 200, factor: 0.5);

        public double Next(long timestampMs, double value)
        {
            _rcf.Update(timestampMs, value);
            var score = _likelihood.Update(_rcf.Ready ? _rcf.LastScore : 0);
            if (_range.Update(value))
            {
                score = 1;
            }

            return _spacing.Update(score);
        }
    }

    [Theory]
    [InlineData("artificialWithAnomaly/art_daily_jumpsup.csv")]
    [InlineData("realTraffic/speed_7578.csv")]
    public void Should_grade_every_row_exactly_as_the_harness_composition_of_best(string file)
    {
        // Arrange
        var (ts, values) = NabData.ReadSeries(Path.Combine(NabData.Root(), "data", file));
        var reference = new HarnessComposition();
        var detector = new LikelihoodRcf(LikelihoodRcfOptions.NabBest);
        var alarms = 0;

        // Act / Assert
        for (var i = 0; i < values.Length; i++)
        {
            var expected = Math.Clamp(reference.Next(ts[i], values[i]), 0.0, 1.0); // the harness clamps
            var score = detector.Update(ts[i], values[i]);
            Assert.True(
                BitConverter.DoubleToInt64Bits(expected) == BitConverter.DoubleToInt64Bits(score.Grade),
                $"{file} row {i}: harness {expected:R}, detector {score.Grade:R}");
            Assert.Equal(expected >= LikelihoodRcfOptions.NabThreshold, score.OutOfBand);
            Assert.True(double.IsNaN(score.Prediction) && double.IsNaN(score.Low) && double.IsNaN(score.High) && double.IsNaN(score.Sigma));
            alarms += score.OutOfBand ? 1 : 0;
        }

        Assert.Equal(values.Length, detector.Count);
        Assert.True(alarms > 0, $"{file} should raise at least one alarm");
    }

    [Fact]
    public void Should_continue_bit_identically_after_a_state_round_trip_mid_file_with_the_NAB_best_options()
    {
        // Arrange: restore just before the jump of art_daily_jumpsup (labelled around row 3000).
        var (ts, values) = NabData.ReadSeries(Path.Combine(NabData.Root(), "data", "artificialWithAnomaly", "art_daily_jumpsup.csv"));
        const int cut = 2500;
        var original = new LikelihoodRcf(LikelihoodRcfOptions.NabBest);
        for (var i = 0; i < cut; i++)
        {
            original.Update(ts[i], values[i]);
        }

        var state = TestSupport.StateBytes(original);
        var restored = new LikelihoodRcf(LikelihoodRcfOptions.NabBest);
        TestSupport.Restore(restored, state);
        Assert.Equal(2, state[0]); // version byte
        Assert.Equal(state, TestSupport.StateBytes(restored));

        // Act / Assert
        var alarms = 0;
        for (var i = cut; i < values.Length; i++)
        {
            var expected = original.Update(ts[i], values[i]);
            TestSupport.AssertBitIdentical(expected, restored.Update(ts[i], values[i]), $"row {i}");
            alarms += expected.OutOfBand ? 1 : 0;
        }

        Assert.True(alarms > 0, "the continuation should exercise the alarm path");
        Assert.Equal(TestSupport.StateBytes(original), TestSupport.StateBytes(restored));
    }

    [Fact]
    public void Should_not_allocate_in_Update_after_warm_up_with_the_NAB_best_options()
    {
        // Arrange: a long real series (likelihood re-estimates, range checks, spacing holds all happen).
        var (ts, values) = NabData.ReadSeries(Path.Combine(NabData.Root(), "data", "realTweets", "Twitter_volume_AMZN.csv"));
        var alarms = 0;
        LikelihoodRcf? detector = null;

        // Act: a fresh detector per attempt, warmed up, then timed over the rest of the series.
        TestSupport.AssertAllocatesNothing(() =>
        {
            var fresh = new LikelihoodRcf(LikelihoodRcfOptions.NabBest);
            detector = fresh;
            for (var i = 0; i < 2000; i++)
            {
                fresh.Update(ts[i], values[i]);
            }

            alarms = 0;
            return () =>
            {
                for (var i = 2000; i < values.Length; i++)
                {
                    alarms += fresh.Update(ts[i], values[i]).OutOfBand ? 1 : 0;
                }
            };
        });

        // Assert
        Assert.True(alarms > 0);
        Assert.Equal(values.Length, detector!.Count);
    }

    [Fact]
    public void Should_default_to_the_NAB_best_configuration_and_its_corpus_threshold()
    {
        // Act
        var options = new LikelihoodRcfOptions();

        // Assert
        Assert.Equal(LikelihoodRcfOptions.NabBest, options);
        Assert.Equal(0.4998345213635387, options.Threshold);
        Assert.Equal(RcfOptions.Default, options.Rcf);
        Assert.Equal(new AnomalyLikelihoodOptions(learningPeriod: 150, estimationSamples: 150, averagingWindow: 40), options.Likelihood);
        Assert.Equal((0.05, 150, 0.5, 200, 0.5), (options.RangeTolerance, options.RangeWarmup, options.SpacingTrigger, options.SpacingHold, options.SpacingFactor));
        Assert.Equal("rcfl", options.Kind);
        Assert.IsType<LikelihoodRcf>(options.Create());
        Assert.Equal(options, DetectorSpec.ForKind("rcfl").Options);
    }

    [Fact]
    public void Should_mark_out_of_band_exactly_when_the_grade_reaches_the_configured_threshold()
    {
        // Arrange: a small forest, early arming, a level shift and spikes.
        var low = new LikelihoodRcf(Small(threshold: 0.3));
        var high = new LikelihoodRcf(Small(threshold: 0.9));
        var random = new Random(3);
        var (lowAlarms, highAlarms) = (0, 0);

        // Act / Assert
        for (var i = 0; i < 3000; i++)
        {
            var v = (i < 2000 ? 10 : 14) + random.NextDouble() + (i % 500 == 499 ? 8 : 0);
            var a = low.Update(i * 1000L, v);
            var b = high.Update(i * 1000L, v);
            Assert.Equal(a.Grade, b.Grade); // the threshold changes decisions, never scores
            Assert.Equal(a.Grade >= 0.3, a.OutOfBand);
            Assert.Equal(b.Grade >= 0.9, b.OutOfBand);
            lowAlarms += a.OutOfBand ? 1 : 0;
            highAlarms += b.OutOfBand ? 1 : 0;
        }

        Assert.True(lowAlarms > highAlarms, $"{lowAlarms} alarms at 0.3, {highAlarms} at 0.9");
        Assert.True(highAlarms > 0);
    }

    public static TheoryData<string, Func<LikelihoodRcfOptions>> InvalidOptions => new()
    {
        { "rcf", () => new LikelihoodRcfOptions(rcf: new RcfOptions(metrics: 2)) },
        { "rangeTolerance", () => new LikelihoodRcfOptions(rangeTolerance: -0.1) },
        { "rangeTolerance", () => new LikelihoodRcfOptions(rangeTolerance: double.NaN) },
        { "rangeWarmup", () => new LikelihoodRcfOptions(rangeWarmup: -1) },
        { "spacingTrigger", () => new LikelihoodRcfOptions(spacingTrigger: double.PositiveInfinity) },
        { "spacingHold", () => new LikelihoodRcfOptions(spacingHold: -1) },
        { "spacingFactor", () => new LikelihoodRcfOptions(spacingFactor: 1.5) },
        { "threshold", () => new LikelihoodRcfOptions(threshold: 0) },
        { "threshold", () => new LikelihoodRcfOptions(threshold: 1.01) },
        { "threshold", () => new LikelihoodRcfOptions(threshold: double.NaN) },
    };

    [Theory]
    [MemberData(nameof(InvalidOptions))]
    public void Should_reject_invalid_options(string parameter, Func<LikelihoodRcfOptions> create)
    {
        // Act
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => create());

        // Assert
        Assert.Equal(parameter, error.ParamName);
    }

    [Fact]
    public void Should_reject_a_state_whose_parts_disagree_on_the_reading_count_and_stay_unchanged()
    {
        // Arrange: a forest that saw 10 readings next to fresh likelihood, range and spacing states.
        var options = Small(threshold: 0.5);
        var forest = new RcfDetector(options.Rcf);
        for (var i = 0; i < 10; i++)
        {
            forest.Update(i, i);
        }

        var state = StateBytes.Of(w =>
        {
            w.Write((byte)1);
            w.Write(false);
            forest.WriteState(w);
            new AnomalyLikelihood(options.Likelihood).WriteState(w);
            new RangeNovelty(options.RangeTolerance, options.RangeWarmup).WriteState(w);
            new DetectionSpacing(options.SpacingTrigger, options.SpacingHold, options.SpacingFactor).WriteState(w);
        });
        var target = new LikelihoodRcf(options);
        target.Update(0, 1);
        var before = TestSupport.StateBytes(target);

        // Act
        var error = Assert.Throws<InvalidDataException>(() => TestSupport.Restore(target, state));

        // Assert
        Assert.Contains("inconsistent", error.Message);
        Assert.Equal(before, TestSupport.StateBytes(target));
    }

    private static LikelihoodRcfOptions Small(double threshold) => new(
        rcf: new RcfOptions(trees: 10, sampleSize: 64, seed: 5),
        likelihood: new AnomalyLikelihoodOptions(learningPeriod: 50, estimationSamples: 50, averagingWindow: 10),
        rangeWarmup: 50,
        spacingHold: 20,
        threshold: threshold);
}
