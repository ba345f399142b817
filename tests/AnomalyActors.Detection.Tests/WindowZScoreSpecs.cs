using Xunit;

namespace AnomalyActors.Detection.Tests;

public class WindowZScoreSpecs
{
    private const int Precision = 12;

    [Fact]
    public void Should_score_each_reading_against_its_tumbling_window_so_far()
    {
        // Arrange
        var detector = new WindowZScore(new WindowZScoreOptions(windowMs: 10_000));

        // Act
        var r0 = detector.Update(0, 2);
        var r1 = detector.Update(1_000, 4);
        var r2 = detector.Update(2_000, 4);
        var r3 = detector.Update(10_000, 7); // first reading of the next window [10000, 20000)

        // Assert
        // {2}: mean 2, std 0 -> z = 0, no alarm.
        Assert.Equal(2.0, r0.Prediction);
        Assert.Equal(0.0, r0.Sigma);
        Assert.False(r0.OutOfBand);
        // {2, 4}: mean 3, variance (1 + 1) / 2 = 1, std 1.
        Assert.Equal(3.0, r1.Prediction, Precision);
        Assert.Equal(1.0, r1.Sigma, Precision);
        Assert.Equal(1.0, r1.Low, Precision); // 3 - 2 * 1
        Assert.Equal(5.0, r1.High, Precision);
        // {2, 4, 4}: mean 10/3, variance ((4/3)^2 + 2 (2/3)^2) / 3 = 8/9, std sqrt(8)/3.
        Assert.Equal(10.0 / 3.0, r2.Prediction, Precision);
        Assert.Equal(Math.Sqrt(8) / 3.0, r2.Sigma, Precision);
        // {7}: a fresh window.
        Assert.Equal(7.0, r3.Prediction);
        Assert.Equal(0.0, r3.Sigma);
    }

    [Theory]
    [InlineData(2.0, false, 0.0)] // z of the 9 is exactly 2: strict comparison, no alarm
    [InlineData(1.29, true, (2.0 - 1.29) / 1.29 / (1 + (2.0 - 1.29) / 1.29))] // the Talend run's threshold
    public void Should_alarm_when_the_absolute_z_exceeds_the_threshold(double threshold, bool alarm, double grade)
    {
        // Arrange: {2, 4, 4, 4, 5, 5, 7, 9} has mean 5 and population std 2, so the last 9 has z = 2.
        var detector = new WindowZScore(new WindowZScoreOptions(threshold: threshold));
        double[] values = [2, 4, 4, 4, 5, 5, 7];
        for (var i = 0; i < values.Length; i++)
        {
            detector.Update(i * 1000L, values[i]);
        }

        // Act
        var score = detector.Update(7_000, 9);

        // Assert
        Assert.Equal(5.0, score.Prediction, Precision);
        Assert.Equal(2.0, score.Sigma, Precision);
        Assert.Equal(alarm, score.OutOfBand);
        Assert.Equal(grade, score.Grade, Precision);
    }

    [Fact]
    public void Should_score_against_the_oldest_sliding_window_containing_the_reading()
    {
        // Arrange: 10 s windows every 5 s; windows start at multiples of 5000.
        var detector = new WindowZScore(new WindowZScoreOptions(windowMs: 10_000, slideMs: 5_000));

        // Act
        var r0 = detector.Update(0, 1); //     oldest window containing 0 is [-5000, 5000): {1}
        var r1 = detector.Update(4_000, 3); // [-5000, 5000): {1, 3}
        var r2 = detector.Update(6_000, 5); // [0, 10000): {1, 3, 5}
        var r3 = detector.Update(11_000, 100); // [5000, 15000): {5, 100}

        // Assert
        Assert.Equal(1.0, r0.Prediction);
        Assert.Equal(2.0, r1.Prediction, Precision);
        Assert.Equal(1.0, r1.Sigma, Precision);
        // mean 3, variance (4 + 0 + 4) / 3 = 8/3.
        Assert.Equal(3.0, r2.Prediction, Precision);
        Assert.Equal(Math.Sqrt(8.0 / 3.0), r2.Sigma, Precision);
        // mean 52.5, std 47.5.
        Assert.Equal(52.5, r3.Prediction, Precision);
        Assert.Equal(47.5, r3.Sigma, Precision);
        Assert.False(r3.OutOfBand); // z = 1
    }

    [Fact]
    public void Should_neither_alarm_nor_divide_by_zero_on_a_constant_window()
    {
        // Arrange
        var detector = new WindowZScore(WindowZScoreOptions.Default);
        var alarms = 0;
        DetectorScore last = default;

        // Act: one reading a second for ten minutes, 30 windows of 20 s.
        for (var i = 0; i < 600; i++)
        {
            last = detector.Update(i * 1000L, 42.42);
            alarms += last.OutOfBand ? 1 : 0;
        }

        // Assert
        Assert.Equal(0, alarms);
        Assert.Equal(42.42, last.Prediction);
        Assert.Equal(0.0, last.Sigma);
        Assert.Equal(0.0, last.Grade);
        Assert.Equal(42.42, last.Low);
        Assert.Equal(42.42, last.High);
    }

    [Fact]
    public void Should_treat_a_late_reading_as_arriving_at_the_newest_timestamp()
    {
        // Arrange
        var detector = new WindowZScore(new WindowZScoreOptions(windowMs: 10_000));
        detector.Update(0, 1);
        detector.Update(10_000, 2);

        // Act: 5000 belongs to the closed window [0, 10000); it is counted in [10000, 20000) instead.
        var late = detector.Update(5_000, 4);

        // Assert: {2, 4} (not {1, 4}).
        Assert.Equal(3.0, late.Prediction, Precision);
    }

    [Fact]
    public void Should_reproduce_Talends_per_window_output_in_batch()
    {
        // Arrange: two 20 s tumbling windows; the second is constant.
        double[] first = [2, 4, 4, 4, 5, 5, 7, 9];
        var readings = new List<TimedReading>();
        for (var i = 0; i < first.Length; i++)
        {
            readings.Add(new TimedReading(i * 1000L, first[i]));
        }

        readings.Add(new TimedReading(20_000, 3));
        readings.Add(new TimedReading(25_000, 3));
        readings.Add(new TimedReading(39_999, 3));

        // Act
        var windows = WindowZScore.Batch(readings, new WindowZScoreOptions(windowMs: 20_000, threshold: 1.29));

        // Assert
        Assert.Equal(2, windows.Count);
        var a = windows[0];
        Assert.Equal(0, a.StartMs);
        Assert.Equal(20_000, a.EndMs);
        Assert.Equal(5.0, a.Mean); // 40 / 8, exact
        Assert.Equal(2.0, a.StdDev); // sqrt((9+1+1+1+0+0+4+16) / 8) = sqrt(4), exact
        Assert.Equal([-1.5, -0.5, -0.5, -0.5, 0, 0, 1, 2], a.Z);
        Assert.Equal([true, false, false, false, false, false, false, true], a.Anomalies);
        var b = windows[1];
        Assert.Equal(20_000, b.StartMs);
        Assert.Equal(3, b.Readings.Count);
        Assert.Equal(0.0, b.StdDev);
        Assert.Equal([0.0, 0.0, 0.0], b.Z);
        Assert.Equal([false, false, false], b.Anomalies);
    }

    [Fact]
    public void Should_put_a_reading_in_every_sliding_window_that_contains_it_in_batch()
    {
        // Arrange: 10 s windows every 5 s. t = 0 is in [-5000, 5000) and [0, 10000);
        // t = 6000 is in [0, 10000) and [5000, 15000).
        TimedReading[] readings = [new(0, 1), new(6_000, 5)];

        // Act
        var windows = WindowZScore.Batch(readings, new WindowZScoreOptions(windowMs: 10_000, slideMs: 5_000));

        // Assert
        Assert.Equal([-5_000L, 0L, 5_000L], windows.Select(w => w.StartMs));
        Assert.Equal([1, 2, 1], windows.Select(w => w.Readings.Count));
        Assert.Equal(3.0, windows[1].Mean);
        Assert.Equal(2.0, windows[1].StdDev);
        Assert.Equal([-1.0, 1.0], windows[1].Z);
    }

    [Fact]
    public void Should_match_the_batch_statistics_on_the_last_reading_of_each_tumbling_window()
    {
        // Arrange
        var random = new Random(7);
        var readings = new List<TimedReading>();
        for (var i = 0; i < 400; i++)
        {
            readings.Add(new TimedReading(i * 700L, 50 + random.NextDouble() * 10));
        }

        var options = WindowZScoreOptions.Default;
        var detector = new WindowZScore(options);

        // Act
        var streamed = readings.Select(r => detector.Update(r.TimestampMs, r.Value)).ToArray();
        var windows = WindowZScore.Batch(readings, options);

        // Assert: the streaming view of a window's last reading is the whole window.
        foreach (var window in windows)
        {
            var lastIndex = readings.IndexOf(window.Readings[^1]);
            Assert.Equal(window.Mean, streamed[lastIndex].Prediction, 10);
            Assert.Equal(window.StdDev, streamed[lastIndex].Sigma, 10);
        }
    }

    public static TheoryData<Func<WindowZScoreOptions>, string> InvalidOptions => new()
    {
        { () => new WindowZScoreOptions(windowMs: 0), "windowMs" },
        { () => new WindowZScoreOptions(windowMs: 1000, slideMs: 0), "slideMs" },
        { () => new WindowZScoreOptions(windowMs: 1000, slideMs: 2000), "slideMs" },
        { () => new WindowZScoreOptions(windowMs: 1_000_000_007, slideMs: 1_000_000), "slideMs" }, // coprime: too many panes
        { () => new WindowZScoreOptions(threshold: 0), "threshold" },
        { () => new WindowZScoreOptions(threshold: double.NaN), "threshold" },
    };

    [Theory]
    [MemberData(nameof(InvalidOptions))]
    public void Should_reject_invalid_options_naming_the_parameter(Func<WindowZScoreOptions> create, string parameter)
    {
        // Act
        var error = Assert.Throws<ArgumentOutOfRangeException>(create);

        // Assert
        Assert.Equal(parameter, error.ParamName);
    }
}
