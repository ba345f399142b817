using Xunit;

namespace AnomalyActors.Detection.Tests.Likelihood;

public class AnomalyLikelihoodSpecs
{
    private static AnomalyLikelihood Small(int learning = 0, int estimation = 4, int averaging = 1, bool twoSided = true, bool filter = false, int reestimation = 100) =>
        new(new AnomalyLikelihoodOptions(
            learningPeriod: learning, estimationSamples: estimation, averagingWindow: averaging, reestimationPeriod: reestimation,
            minMean: 0, minVariance: 1e-12, twoSided: twoSided, filterRepeats: filter));

    private static double Score(int i, Random random) => 1 + (0.1 * random.NextDouble()) + (i % 997 == 0 ? 3 : 0);

    [Fact]
    public void Should_report_one_half_until_the_learning_and_estimation_periods_have_passed()
    {
        // Arrange
        var likelihood = new AnomalyLikelihood(new AnomalyLikelihoodOptions(learningPeriod: 5, estimationSamples: 3));

        // Act / Assert
        for (var i = 0; i < 8; i++)
        {
            var log = likelihood.Update(i == 7 ? 100 : 0.1);
            Assert.Equal(0.5, likelihood.LastTail);
            Assert.Equal(AnomalyLikelihood.LogScore(0.5), log);
            Assert.False(likelihood.Ready);
            Assert.True(double.IsNaN(likelihood.Mean));
        }

        likelihood.Update(0.1);
        Assert.True(likelihood.Ready);
    }

    [Fact]
    public void Should_judge_a_score_by_the_gaussian_tail_of_the_earlier_scores()
    {
        // Arrange: mean 2.5, population variance 1.25
        var likelihood = Small();
        foreach (var s in new[] { 1.0, 2, 3, 4 })
        {
            likelihood.Update(s);
        }

        // Act
        var log = likelihood.Update(5);

        // Assert: python 0.5 * math.erfc((5 - 2.5) / (sqrt(1.25) * sqrt(2)))
        Assert.Equal(2.5, likelihood.Mean, 12);
        Assert.Equal(Math.Sqrt(1.25), likelihood.Deviation, 12);
        Assert.Equal(0.012673659338734137, likelihood.LastTail, 1e-8);
        Assert.Equal(1 - likelihood.LastTail, likelihood.LastLikelihood);
        Assert.Equal(Math.Log(likelihood.LastTail + 1e-10) / Math.Log(1e-10), log, 15);
    }

    [Fact]
    public void Should_mirror_scores_below_the_mean_only_when_two_sided()
    {
        // Arrange
        var two = Small(twoSided: true);
        var one = Small(twoSided: false);
        foreach (var s in new[] { 1.0, 2, 3, 4 })
        {
            two.Update(s);
            one.Update(s);
        }

        // Act: 0 lies as far below 2.5 as 5 lies above it
        two.Update(0);
        one.Update(0);

        // Assert
        Assert.Equal(0.012673659338734137, two.LastTail, 1e-8);
        Assert.Equal(1.0, one.LastTail);
        Assert.Equal(0.0, one.LastLogLikelihood, 12);
    }

    [Fact]
    public void Should_leave_learning_period_scores_out_of_the_distribution()
    {
        // Arrange: the two 100s are learning-period scores
        var likelihood = Small(learning: 2);
        foreach (var s in new[] { 100.0, 100, 1, 2, 3, 4 })
        {
            likelihood.Update(s);
        }

        // Act
        likelihood.Update(5);

        // Assert
        Assert.Equal(2.5, likelihood.Mean, 12);
        Assert.Equal(0.012673659338734137, likelihood.LastTail, 1e-8);
    }

    [Fact]
    public void Should_judge_the_average_of_the_latest_scores()
    {
        // Arrange: window 2, so the stored averages are 1, 1.5, 2.5, 3.5 (the first is a partial average)
        var likelihood = Small(averaging: 2);
        foreach (var s in new[] { 1.0, 2, 3, 4 })
        {
            likelihood.Update(s);
        }

        // Act
        likelihood.Update(6);

        // Assert
        Assert.Equal(5.0, likelihood.LastAverage);
        Assert.Equal(2.125, likelihood.Mean, 12);
    }

    [Fact]
    public void Should_reestimate_the_distribution_on_the_period_only()
    {
        // Arrange
        var likelihood = Small(reestimation: 3);
        foreach (var s in new[] { 1.0, 2, 3, 4 })
        {
            likelihood.Update(s);
        }

        // Act / Assert: estimated at count 4 (first), kept at 5, re-estimated at 6 (a multiple of 3)
        likelihood.Update(5);
        Assert.Equal(2.5, likelihood.Mean, 12);
        likelihood.Update(6);
        Assert.Equal(2.5, likelihood.Mean, 12);
        likelihood.Update(7);
        Assert.Equal(3.5, likelihood.Mean, 12);
    }

    [Fact]
    public void Should_report_a_red_zone_tail_right_after_another_as_yellow_when_filtering()
    {
        // Arrange
        var filtered = Small(filter: true);
        var raw = Small(filter: false);
        foreach (var s in new[] { 1.0, 2, 3, 4 })
        {
            filtered.Update(s);
            raw.Update(s);
        }

        // Act
        var first = filtered.Update(50);
        var second = filtered.Update(50);
        raw.Update(50);
        var secondRaw = raw.Update(50);

        // Assert
        Assert.True(first > 0.9);
        Assert.Equal(1e-3, filtered.LastTail);
        Assert.Equal(AnomalyLikelihood.LogScore(1e-3), second);
        Assert.True(secondRaw > 0.9);
    }

    [Fact]
    public void Should_stay_in_the_unit_interval_on_extreme_scores()
    {
        // Arrange
        var likelihood = Small();
        foreach (var s in new[] { 1.0, 1, 1, 1 })
        {
            likelihood.Update(s);
        }

        // Act
        var log = likelihood.Update(1e300);

        // Assert
        Assert.InRange(log, 0.0, 1.0);
        Assert.Equal(1.0, log, 12);
    }

    [Theory]
    [InlineData(0.0, 1.0)]
    [InlineData(0.5, 0.4795001221869535)]
    [InlineData(1.0, 0.15729920705028513)]
    [InlineData(3.0, 2.2090496998585438e-05)]
    [InlineData(5.0, 1.5374597944280351e-12)]
    [InlineData(-1.0, 1.842700792949715)]
    public void Should_compute_erfc_to_a_relative_error_below_2e_7(double x, double expected)
    {
        // Act
        var actual = AnomalyLikelihood.Erfc(x);

        // Assert
        Assert.True(Math.Abs(actual - expected) <= 2e-7 * expected, $"erfc({x}) = {actual}, expected {expected}");
    }

    [Fact]
    public void Should_continue_bit_identically_after_a_state_round_trip()
    {
        // Arrange
        var options = new AnomalyLikelihoodOptions(learningPeriod: 50, estimationSamples: 50, historicWindow: 500, averagingWindow: 10);
        var original = new AnomalyLikelihood(options);
        var random = new Random(1);
        for (var i = 0; i < 1234; i++)
        {
            original.Update(Score(i, random));
        }

        var restored = new AnomalyLikelihood(options);
        StateBytes.Into(restored.ReadState, StateBytes.Of(original.WriteState));

        // Act / Assert
        Assert.Equal(original.Count, restored.Count);
        for (var i = 1234; i < 4000; i++)
        {
            var s = Score(i, random);
            Assert.Equal(BitConverter.DoubleToInt64Bits(original.Update(s)), BitConverter.DoubleToInt64Bits(restored.Update(s)));
        }

        Assert.Equal(StateBytes.Of(original.WriteState), StateBytes.Of(restored.WriteState));
    }

    [Fact]
    public void Should_reject_unknown_versions_and_keep_its_state_on_a_truncated_snapshot()
    {
        // Arrange
        var source = new AnomalyLikelihood(AnomalyLikelihoodOptions.Default);
        var target = new AnomalyLikelihood(AnomalyLikelihoodOptions.Default);
        source.Update(1);
        target.Update(2);
        var state = StateBytes.Of(source.WriteState);
        var before = StateBytes.Of(target.WriteState);
        var wrongVersion = (byte[])state.Clone();
        wrongVersion[0] = 99;

        // Act / Assert
        Assert.Equal(1, state[0]);
        Assert.Contains("version", Assert.Throws<InvalidDataException>(() => StateBytes.Into(target.ReadState, wrongVersion)).Message);
        Assert.Throws<EndOfStreamException>(() => StateBytes.Into(target.ReadState, state[..^1]));
        Assert.Equal(before, StateBytes.Of(target.WriteState));
    }

    [Fact]
    public void Should_not_allocate_per_score()
    {
        // Arrange, act and assert: a fresh instance per attempt, warmed up, then timed.
        TestSupport.AssertAllocatesNothing(() =>
        {
            var likelihood = new AnomalyLikelihood(new AnomalyLikelihoodOptions(historicWindow: 1000));
            var random = new Random(2);
            for (var i = 0; i < 2000; i++)
            {
                likelihood.Update(Score(i, random));
            }

            return () =>
            {
                for (var i = 2000; i < 20_000; i++)
                {
                    likelihood.Update(Score(i, random));
                }
            };
        });
    }

    [Fact]
    public void Should_reject_invalid_options_and_non_finite_scores()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new AnomalyLikelihoodOptions(learningPeriod: -1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new AnomalyLikelihoodOptions(estimationSamples: 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new AnomalyLikelihoodOptions(historicWindow: 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new AnomalyLikelihoodOptions(reestimationPeriod: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new AnomalyLikelihoodOptions(averagingWindow: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new AnomalyLikelihoodOptions(minMean: double.NaN));
        Assert.Throws<ArgumentOutOfRangeException>(() => new AnomalyLikelihoodOptions(minVariance: 0));
        Assert.Throws<ArgumentNullException>(() => new AnomalyLikelihood(null!));
        var likelihood = new AnomalyLikelihood(AnomalyLikelihoodOptions.Default);
        Assert.Throws<ArgumentOutOfRangeException>(() => likelihood.Update(double.NaN));
        Assert.Equal(0, likelihood.Count);
    }
}
