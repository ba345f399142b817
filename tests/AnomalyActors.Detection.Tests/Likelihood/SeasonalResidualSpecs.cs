using AnomalyActors.Detection.Rcf;
using Xunit;

namespace AnomalyActors.Detection.Tests.Likelihood;

public class SeasonalResidualSpecs
{
    private const long FiveMinutes = 300_000;
    private const int PerDay = 288;
    private static readonly long Start = new DateTimeOffset(2024, 1, 1, 0, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds();

    /// <summary>Ten days at 5-minute readings: a noisy floor of 10 and a 30-high peak from 09:00 to 12:00; on day 8 the peak does not come.</summary>
    private static (long[] Ts, double[] Values) DailyPeaks(bool missingPeak)
    {
        var random = new Random(11);
        var ts = new long[10 * PerDay];
        var values = new double[ts.Length];
        for (var i = 0; i < ts.Length; i++)
        {
            ts[i] = Start + (i * FiveMinutes);
            var hour = i % PerDay / 12;
            var peak = hour is >= 9 and < 12 && !(missingPeak && i / PerDay == 8);
            values[i] = 10 + (peak ? 30 : 0) + (random.NextDouble() * 2) - 1;
        }

        return (ts, values);
    }

    private static bool InMissingPeak(int i) => i / PerDay == 8 && i % PerDay / 12 is >= 9 and < 12;

    [Fact]
    public void Should_score_a_peak_that_did_not_come_once_the_daily_cycle_is_learned()
    {
        // Arrange
        var (ts, values) = DailyPeaks(missingPeak: true);
        var seasonal = new SeasonalResidual(SeasonalResidualOptions.Daily);
        var (inside, elsewhere) = (0.0, 0.0);

        // Act
        for (var i = 0; i < ts.Length; i++)
        {
            var score = seasonal.Update(ts[i], values[i]);
            if (InMissingPeak(i))
            {
                inside = Math.Max(inside, score);
            }
            else if (i / PerDay < 8)
            {
                elsewhere = Math.Max(elsewhere, score);
            }
        }

        // Assert: the missing peak scores far above anything on the ordinary days before it
        Assert.True(inside >= 0.5, $"missing peak scored {inside}");
        Assert.True(elsewhere < 0.5, $"ordinary days scored up to {elsewhere}");
        Assert.True(seasonal.UnexplainedFraction < 0.3, $"unexplained fraction {seasonal.UnexplainedFraction}");
    }

    [Fact]
    public void Should_leave_a_stream_without_a_cycle_unscored()
    {
        // Arrange: ten days of noise around one level, with an outlier now and then
        var random = new Random(5);
        var seasonal = new SeasonalResidual(SeasonalResidualOptions.Daily);

        // Act / Assert
        for (var i = 0; i < 10 * PerDay; i++)
        {
            var value = 10 + (random.NextDouble() * 4) + (i % 500 == 499 ? 20 : 0);
            Assert.Equal(0, seasonal.Update(Start + (i * FiveMinutes), value));
            Assert.False(seasonal.Strong);
        }
    }

    [Fact]
    public void Should_let_a_likelihood_rcf_catch_the_missing_peak_only_with_the_cycle_on()
    {
        // Arrange
        var (ts, values) = DailyPeaks(missingPeak: true);
        var with = new LikelihoodRcf(new LikelihoodRcfOptions(seasonal: true));
        var without = new LikelihoodRcf(new LikelihoodRcfOptions());
        var (caughtWith, caughtWithout) = (false, false);

        // Act
        for (var i = 0; i < ts.Length; i++)
        {
            var a = with.Update(ts[i], values[i]);
            var b = without.Update(ts[i], values[i]);
            caughtWith |= InMissingPeak(i) && a.OutOfBand;
            caughtWithout |= InMissingPeak(i) && b.OutOfBand;
        }

        // Assert
        Assert.True(caughtWith);
        Assert.False(caughtWithout);
    }

    [Fact]
    public void Should_restore_a_likelihood_rcf_state_from_before_the_cycle_with_a_fresh_one()
    {
        // Arrange: a state as version 1 wrote it (no trailing flag), from a detector without the cycle
        var (ts, values) = DailyPeaks(missingPeak: false);
        var old = new LikelihoodRcf(new LikelihoodRcfOptions());
        for (var i = 0; i < 500; i++)
        {
            old.Update(ts[i], values[i]);
        }

        var current = StateBytes.Of(old.WriteState);
        Assert.False(BitConverter.ToBoolean(current, current.Length - 1));
        var versionOne = current[..^1];
        versionOne[0] = 1;
        var restored = new LikelihoodRcf(new LikelihoodRcfOptions(seasonal: true));

        // Act
        StateBytes.Into(restored.ReadState, versionOne);

        // Assert: the forest and the rest carry on; the cycle starts learning
        Assert.Equal(500, restored.Count);
        Assert.Equal(0, restored.Seasonal!.Count);
        Assert.Equal(old.Update(ts[500], values[500]).Grade, restored.Update(ts[500], values[500]).Grade);
    }

    [Fact]
    public void Should_refuse_a_state_with_a_cycle_into_a_detector_configured_without_one()
    {
        // Arrange
        var with = new LikelihoodRcf(new LikelihoodRcfOptions(seasonal: true));
        with.Update(Start, 1);
        var state = StateBytes.Of(with.WriteState);
        var without = new LikelihoodRcf(new LikelihoodRcfOptions());

        // Act / Assert
        var e = Assert.Throws<InvalidDataException>(() => StateBytes.Into(without.ReadState, state));
        Assert.Contains("seasonal part", e.Message);
    }

    [Theory]
    [InlineData(0, 10, "slot")]
    [InlineData(60, 7, "slot")]
    [InlineData(60, 90, "slot")]
    [InlineData(10_080, 0.05, "slot")]
    public void Should_refuse_a_slot_that_does_not_divide_the_period(double periodMinutes, double slotMinutes, string parameter)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() =>
            new SeasonalResidualOptions(period: TimeSpan.FromMinutes(periodMinutes), slot: TimeSpan.FromMinutes(slotMinutes)));
        Assert.Equal(parameter, e.ParamName);
    }
}
