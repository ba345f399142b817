using Xunit;

namespace AnomalyActors.Detection.Tests;

public class EwmaBandSpecs
{
    [Fact]
    public void Should_predict_the_first_reading_and_apply_the_warm_up_alpha_for_the_first_five_readings()
    {
        // Arrange
        var detector = new EwmaBand(EwmaBandOptions.Notebook);
        double[] x = [10, 30, 20, 25, 15, 40, 35];

        // Act
        var scores = new DetectorScore[x.Length];
        for (var i = 0; i < x.Length; i++)
        {
            scores[i] = detector.Update(i * 1000L, x[i]);
        }

        // Assert: s_0 = x_0; readings 1..4 use a = 0.9; reading 5 is the first with a = 0.04.
        var s0 = 10.0;
        var s1 = 0.9 * 30.0 + (1 - 0.9) * s0;
        var s2 = 0.9 * 20.0 + (1 - 0.9) * s1;
        var s3 = 0.9 * 25.0 + (1 - 0.9) * s2;
        var s4 = 0.9 * 15.0 + (1 - 0.9) * s3;
        var s5 = 0.04 * 40.0 + (1 - 0.04) * s4;
        Assert.Equal(10.0, scores[0].Prediction);
        Assert.Equal(s0, scores[1].Prediction);
        Assert.Equal(s1, scores[2].Prediction);
        Assert.Equal(s2, scores[3].Prediction);
        Assert.Equal(s3, scores[4].Prediction);
        Assert.Equal(s4, scores[5].Prediction);
        Assert.Equal(s5, scores[6].Prediction);
    }

    [Fact]
    public void Should_compute_sigma_from_the_buffer_before_the_reading_enters_it()
    {
        // Arrange
        var detector = new EwmaBand(EwmaBandOptions.Notebook);

        // Act
        var r0 = detector.Update(0, 10);
        var r1 = detector.Update(1, 30);
        var r2 = detector.Update(2, 20);

        // Assert
        // Readings 0 and 1 see a buffer of twenty 10s: sigma_raw = 0, sigma = 0, band collapses on the prediction.
        Assert.Equal(0.0, r0.Sigma);
        Assert.Equal(0.0, r1.Sigma);
        Assert.Equal(10.0, r1.Low);
        Assert.Equal(10.0, r1.High);
        Assert.False(r1.OutOfBand); // far outside, but only 1 reading seen
        // Reading 2 sees nineteen 10s and one 30: mean 11, sum of squares 19*1 + 19^2 = 380,
        // sigma_raw = sqrt(380) (notebook: not divided by M), sigma = 0.01*sqrt(380) + 0.99*0.
        var sigma = 0.01 * Math.Sqrt(380);
        Assert.Equal(sigma, r2.Sigma, 15);
        Assert.Equal(r2.Prediction - 1.3 * r2.Sigma, r2.Low);
        Assert.Equal(r2.Prediction + 1.3 * r2.Sigma, r2.High);
    }

    [Fact]
    public void Should_divide_by_the_window_in_population_mode()
    {
        // Arrange
        var detector = new EwmaBand(new EwmaBandOptions(sigmaMode: SigmaMode.Population));

        // Act
        detector.Update(0, 10);
        detector.Update(1, 30);
        var r2 = detector.Update(2, 20);

        // Assert: same buffer as above, sigma_raw = sqrt(380 / 20) = sqrt(19).
        Assert.Equal(0.01 * Math.Sqrt(19), r2.Sigma, 15);
    }

    [Fact]
    public void Should_not_alarm_until_more_than_AlarmAfter_readings_were_seen()
    {
        // Arrange
        var options = new EwmaBandOptions(window: 4, alarmAfter: 3, minRelativeBandWidth: 0);
        var early = new EwmaBand(options);
        var armed = new EwmaBand(options);

        // Act: zeros keep s = 0 and sigma = 0 exactly, so any non-zero reading is outside [0, 0].
        for (var i = 0; i < 3; i++)
        {
            early.Update(i, 0);
            armed.Update(i, 0);
        }

        var spikeAtThree = early.Update(3, 100); // 3 readings seen before: not more than 3
        armed.Update(3, 0);
        var spikeAtFour = armed.Update(4, 100); // 4 seen before

        // Assert
        Assert.False(spikeAtThree.OutOfBand);
        Assert.Equal(0.0, spikeAtThree.Grade);
        Assert.True(spikeAtFour.OutOfBand);
        Assert.Equal(1.0, spikeAtFour.Grade); // zero-width band: any excursion is maximal
    }

    [Theory]
    [InlineData(3.0, false, 0.0)] // exactly on the high edge: strict comparison does not flag
    [InlineData(1.0, false, 0.0)] // exactly on the low edge
    [InlineData(2.5, false, 0.0)]
    [InlineData(5.0, true, 2.0 / 3.0)] // 2 above high, half-width 1: d = 2, grade = 2/3
    [InlineData(-1.0, true, 2.0 / 3.0)] // 2 below low
    [InlineData(3.5, true, 1.0 / 3.0)] // d = 0.5, grade = 0.5/1.5
    public void Should_grade_by_distance_outside_over_half_width(double value, bool outOfBand, double grade)
    {
        // Arrange: window 2, no smoothing (a = g = 1), k = 1, population sigma, armed from reading 1.
        var options = new EwmaBandOptions(alpha: 1, warmupAlpha: 1, window: 2, gamma: 1, k: 1, alarmAfter: 0,
            sigmaMode: SigmaMode.Population, minRelativeBandWidth: 0);
        var detector = new EwmaBand(options);
        detector.Update(0, 0); // buffer [0, 0], s = 0
        detector.Update(1, 2); // s = 1*2 + 0*0 = 2, buffer [0, 2]

        // Act: prediction 2; buffer [0, 2] has mean 1 and population sigma 1; band [1, 3].
        var score = detector.Update(2, value);

        // Assert
        Assert.Equal(2.0, score.Prediction);
        Assert.Equal(1.0, score.Sigma);
        Assert.Equal(1.0, score.Low);
        Assert.Equal(3.0, score.High);
        Assert.Equal(outOfBand, score.OutOfBand);
        Assert.Equal(grade, score.Grade, 15);
    }

    [Theory]
    [InlineData(45.0)]
    [InlineData(0.0)]
    [InlineData(-3.7)]
    [InlineData(0.1)]
    [InlineData(123456.789)]
    [InlineData(1e12)]
    [InlineData(-1e-12)]
    [InlineData(1e300)]
    public void Should_never_alarm_on_a_constant_stream_with_the_default_options(double value)
    {
        // Arrange
        var detector = new EwmaBand(EwmaBandOptions.Default);
        var alarms = 0;

        // Act
        for (var i = 0; i < 5000; i++)
        {
            alarms += detector.Update(i * 1000L, value).OutOfBand ? 1 : 0;
        }

        // Assert
        Assert.Equal(0, alarms);
    }

    [Fact]
    public void Should_not_alarm_on_a_long_flat_stretch_after_a_step_with_the_default_options()
    {
        // Arrange: a step, then flat long enough for the step to leave the buffer and the EWMA to settle.
        var detector = new EwmaBand(EwmaBandOptions.Default);
        for (var i = 0; i < 2000; i++)
        {
            detector.Update(i, 10.3);
        }

        detector.Update(2000, 77.7);
        var alarmsAfterSettling = 0;

        // Act
        for (var i = 2001; i < 20000; i++)
        {
            var score = detector.Update(i, 77.7);
            if (i > 4000)
            {
                alarmsAfterSettling += score.OutOfBand ? 1 : 0;
            }
        }

        // Assert
        Assert.Equal(0, alarmsAfterSettling);
    }

    [Fact]
    public void Should_treat_a_constant_zero_stream_as_in_band_in_notebook_mode()
    {
        // Arrange: s stays exactly 0, sigma exactly 0; strict comparison keeps x = 0 inside [0, 0].
        var detector = new EwmaBand(EwmaBandOptions.Notebook);
        var alarms = 0;

        // Act
        for (var i = 0; i < 3000; i++)
        {
            alarms += detector.Update(i, 0).OutOfBand ? 1 : 0;
        }

        // Assert
        Assert.Equal(0, alarms);
    }

    [Fact]
    public void Should_apply_the_absolute_band_floor()
    {
        // Arrange
        var detector = new EwmaBand(new EwmaBandOptions(minBandWidth: 0.5, minRelativeBandWidth: 0));

        // Act: buffer of 20s, sigma 0, so the floor is the whole half-width.
        var score = detector.Update(0, 20);

        // Assert
        Assert.Equal(19.5, score.Low);
        Assert.Equal(20.5, score.High);
    }

    [Fact]
    public void Should_default_AlarmAfter_to_fifty_windows()
    {
        // Arrange / Act
        var options = new EwmaBandOptions(window: 7);

        // Assert
        Assert.Equal(350, options.AlarmAfter);
        Assert.Equal(1000, EwmaBandOptions.Default.AlarmAfter);
        Assert.Equal(0.0, EwmaBandOptions.Notebook.MinBandWidth);
        Assert.Equal(0.0, EwmaBandOptions.Notebook.MinRelativeBandWidth);
        Assert.Equal(SigmaMode.Notebook, EwmaBandOptions.Notebook.SigmaMode);
    }

    public static TheoryData<Func<EwmaBandOptions>, string> InvalidOptions => new()
    {
        { () => new EwmaBandOptions(alpha: 0), "alpha" },
        { () => new EwmaBandOptions(alpha: 1.5), "alpha" },
        { () => new EwmaBandOptions(alpha: double.NaN), "alpha" },
        { () => new EwmaBandOptions(warmupAlpha: -0.1), "warmupAlpha" },
        { () => new EwmaBandOptions(warmupReadings: 0), "warmupReadings" },
        { () => new EwmaBandOptions(window: 1), "window" },
        { () => new EwmaBandOptions(gamma: 0), "gamma" },
        { () => new EwmaBandOptions(k: 0), "k" },
        { () => new EwmaBandOptions(k: double.PositiveInfinity), "k" },
        { () => new EwmaBandOptions(alarmAfter: -1), "alarmAfter" },
        { () => new EwmaBandOptions(sigmaMode: (SigmaMode)7), "sigmaMode" },
        { () => new EwmaBandOptions(minBandWidth: -1), "minBandWidth" },
        { () => new EwmaBandOptions(minRelativeBandWidth: double.NaN), "minRelativeBandWidth" },
    };

    [Theory]
    [MemberData(nameof(InvalidOptions))]
    public void Should_reject_invalid_options_naming_the_parameter(Func<EwmaBandOptions> create, string parameter)
    {
        // Act
        var error = Assert.Throws<ArgumentOutOfRangeException>(create);

        // Assert
        Assert.Equal(parameter, error.ParamName);
    }
}

public class NumpySumSpecs
{
    [Fact]
    public void Should_sum_in_numpy_pairwise_order()
    {
        // Arrange: 1e16 then fifteen 1s. The ulp at 1e16 is 2, so a left-to-right loop loses every 1
        // (1e16 + 1 rounds back to 1e16). numpy's 8 accumulators give r0 = 1e16 + 1 -> 1e16 and
        // r1..r7 = 2 each, combined as ((1e16 + 2) + 4) + (4 + 4) = 1e16 + 14, exactly representable.
        var values = new double[16];
        values[0] = 1e16;
        for (var i = 1; i < values.Length; i++)
        {
            values[i] = 1;
        }

        // Act
        var sum = NumpySum.Sum(values);

        // Assert
        Assert.Equal(1e16 + 14, sum);
    }

    [Fact]
    public void Should_add_the_tail_after_the_blocks_and_sum_short_arrays_left_to_right()
    {
        // Arrange: [1e16, 1 x 8]: no full second block, so r0 = 1e16 and r1..r7 = 1;
        // ((1e16 + 1) + 2) + ((1 + 1) + (1 + 1)): 1e16 + 1 ties to even 1e16, then 1e16 + 2, then 1e16 + 6;
        // the tail adds the last 1: 1e16 + 7 ties to the even neighbour 1e16 + 8.
        double[] nine = [1e16, 1, 1, 1, 1, 1, 1, 1, 1];
        double[] short7 = [1e16, 1, 1, 1, 1, 1, 1];

        // Act / Assert
        Assert.Equal(1e16 + 8, NumpySum.Sum(nine));
        Assert.Equal(1e16, NumpySum.Sum(short7)); // each + 1 ties to even and is lost
    }

    /// <summary>The demo sensor's readings (10-20, a spike of 110 at reading 60), as a young stream sees them.</summary>
    private static double[] YoungDemoStream()
    {
        var random = new Random(4);
        var values = Enumerable.Range(0, 200).Select(_ => (double)random.Next(10, 21)).ToArray();
        values[60] = 110;
        return values;
    }

    [Fact]
    public void Should_alarm_on_a_young_streams_spike_only_with_a_prior_and_never_on_its_normal_readings()
    {
        // Arrange: a prior as a fleet of demo sensors gives it (mature half-width about 18).
        var alone = new EwmaBand(EwmaBandOptions.Default);
        var warmStarted = new EwmaBand(EwmaBandOptions.Default);
        warmStarted.WarmStart(new DetectorPrior(18, 20));

        // Act
        var values = YoungDemoStream();
        var alarmsAlone = new List<int>();
        var alarms = new List<int>();
        for (var i = 0; i < values.Length; i++)
        {
            if (alone.Update(i, values[i]).OutOfBand)
            {
                alarmsAlone.Add(i);
            }

            if (warmStarted.Update(i, values[i]).OutOfBand)
            {
                alarms.Add(i);
            }
        }

        // Assert
        Assert.Empty(alarmsAlone);
        Assert.Equal([60], alarms);
    }

    [Fact]
    public void Should_leave_the_prior_once_its_own_alarms_are_armed()
    {
        // Arrange: a prior far wider than the stream's own band.
        var options = new EwmaBandOptions(alarmAfter: 100);
        var warmStarted = new EwmaBand(options);
        var alone = new EwmaBand(options);
        warmStarted.WarmStart(new DetectorPrior(1000, 5));

        // Act
        var values = YoungDemoStream();
        DetectorScore withPrior = default, without = default;
        for (var i = 0; i < values.Length; i++)
        {
            withPrior = warmStarted.Update(i, values[i]);
            without = alone.Update(i, values[i]);
            if (i == 50)
            {
                Assert.Equal(1000, (withPrior.High - withPrior.Low) / 2, 6);
            }
        }

        // Assert: past its own warm-up the stream's band is its own.
        TestSupport.AssertBitIdentical(without, withPrior, "after the warm-up");
    }

    [Fact]
    public void Should_restore_the_prior_with_the_state_and_read_states_written_without_one()
    {
        // Arrange
        var original = new EwmaBand(EwmaBandOptions.Default);
        original.WarmStart(new DetectorPrior(18, 20));
        var plain = new EwmaBand(EwmaBandOptions.Default);
        foreach (var value in YoungDemoStream().Take(30))
        {
            original.Update(0, value);
            plain.Update(0, value);
        }

        // Act
        var restored = new EwmaBand(EwmaBandOptions.Default);
        TestSupport.Restore(restored, TestSupport.StateBytes(original));
        var restoredPlain = new EwmaBand(EwmaBandOptions.Default);
        restoredPlain.WarmStart(new DetectorPrior(5, 5));
        TestSupport.Restore(restoredPlain, TestSupport.StateBytes(plain));

        // Assert
        Assert.Equal(2, TestSupport.StateBytes(original)[0]);
        Assert.Equal(1, TestSupport.StateBytes(plain)[0]);
        Assert.Equal(new DetectorPrior(18, 20), restored.Prior);
        Assert.True(restoredPlain.Prior.IsNone);
        foreach (var value in YoungDemoStream().Skip(30))
        {
            TestSupport.AssertBitIdentical(original.Update(0, value), restored.Update(0, value), "restored with the prior");
        }
    }
}
