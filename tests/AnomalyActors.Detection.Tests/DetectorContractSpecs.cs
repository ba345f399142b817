using AnomalyActors.Detection.Rcf;
using Xunit;

namespace AnomalyActors.Detection.Tests;

/// <summary>The <see cref="IDetector"/> guarantees, checked for every kind and its notable configurations.</summary>
public class DetectorContractSpecs
{
    public static TheoryData<string> Specs => new(SpecsByName.Keys);

    private static readonly Dictionary<string, DetectorSpec> SpecsByName = new()
    {
        ["ewma-default"] = DetectorSpec.Ewma(),
        ["ewma-notebook"] = DetectorSpec.Ewma(EwmaBandOptions.Notebook),
        // Small window and early arming so the short runs below cross warm-up and raise alarms.
        ["ewma-population-w8"] = DetectorSpec.Ewma(new EwmaBandOptions(window: 8, alarmAfter: 10, sigmaMode: SigmaMode.Population, minBandWidth: 0.1)),
        ["ewma-w200"] = DetectorSpec.Ewma(new EwmaBandOptions(window: 200, alarmAfter: 300)), // pairwise recursion past 128
        ["wz-tumbling"] = DetectorSpec.WindowZ(),
        ["wz-sliding"] = DetectorSpec.WindowZ(new WindowZScoreOptions(windowMs: 20_000, slideMs: 3_000, threshold: 1.5)),
        ["thr"] = DetectorSpec.Threshold(new ThresholdOptions(min: 40, max: 60)),
        // Small forest so the long runs stay quick; shingle 2 exercises the ring.
        ["rcf-small-s2"] = DetectorSpec.Rcf(new RcfOptions(trees: 10, sampleSize: 64, shingleSize: 2, seed: 5)),
        // A small likelihood RCF with early arming (the NAB best defaults are checked on NAB files in LikelihoodRcfSpecs).
        ["rcfl-small-s2"] = DetectorSpec.LikelihoodRcf(new LikelihoodRcfOptions(
            rcf: new RcfOptions(trees: 10, sampleSize: 64, shingleSize: 2, seed: 5),
            likelihood: new AnomalyLikelihoodOptions(learningPeriod: 50, estimationSamples: 50, averagingWindow: 10),
            rangeWarmup: 50,
            spacingHold: 20,
            threshold: 0.4)),
        // The same with a learned cycle short enough for these runs (a minute of 5 s slots).
        ["rcfl-small-seasonal"] = DetectorSpec.LikelihoodRcf(new LikelihoodRcfOptions(
            rcf: new RcfOptions(trees: 10, sampleSize: 64, seed: 5),
            likelihood: new AnomalyLikelihoodOptions(learningPeriod: 50, estimationSamples: 50, averagingWindow: 10),
            rangeWarmup: 50,
            spacingHold: 20,
            threshold: 0.4,
            seasonal: true,
            seasonalOptions: new SeasonalResidualOptions(period: TimeSpan.FromMinutes(1), slot: TimeSpan.FromSeconds(5), minCycles: 2, varianceWindow: 200))),
    };

    private static IDetector Create(string name) => SpecsByName[name].Create();

    /// <summary>A noisy level with occasional spikes, a level shift and a flat stretch; 1 s apart, jittered.</summary>
    private static (long[] Ts, double[] Values) Series(int count, int seed)
    {
        var random = new Random(seed);
        var ts = new long[count];
        var values = new double[count];
        var t = 1_700_000_000_000L;
        for (var i = 0; i < count; i++)
        {
            t += 500 + random.Next(1000);
            ts[i] = t;
            var level = i % 3000 < 1500 ? 50.0 : 57.0;
            values[i] = i % 1000 is >= 700 and < 760
                ? 55.5
                : level + random.NextDouble() * 4 - 2 + (random.Next(200) == 0 ? 30 : 0);
        }

        return (ts, values);
    }

    [Theory]
    [MemberData(nameof(Specs))]
    public void Should_reject_non_finite_values_before_touching_the_state(string name)
    {
        // Arrange
        var detector = Create(name);
        var (ts, values) = Series(1500, 1);
        for (var i = 0; i < values.Length; i++)
        {
            detector.Update(ts[i], values[i]);
        }

        var before = TestSupport.StateBytes(detector);

        // Act / Assert
        foreach (var bad in new[] { double.NaN, double.PositiveInfinity, double.NegativeInfinity })
        {
            var error = Assert.Throws<ArgumentOutOfRangeException>(() => detector.Update(ts[^1] + 1000, bad));
            Assert.Equal("value", error.ParamName);
        }

        Assert.Equal(1500, detector.Count);
        Assert.Equal(before, TestSupport.StateBytes(detector));
    }

    [Theory]
    [MemberData(nameof(Specs))]
    public void Should_continue_bit_identically_after_a_state_round_trip(string name)
    {
        // Arrange
        var (ts, values) = Series(5000, 2);
        const int n = 3100;
        var original = Create(name);
        for (var i = 0; i < n; i++)
        {
            original.Update(ts[i], values[i]);
        }

        var restored = Create(name);
        TestSupport.Restore(restored, TestSupport.StateBytes(original));

        // Act / Assert
        Assert.Equal(original.Count, restored.Count);
        Assert.Equal(TestSupport.StateBytes(original), TestSupport.StateBytes(restored));
        var alarms = 0;
        for (var i = n; i < values.Length; i++)
        {
            var expected = original.Update(ts[i], values[i]);
            var actual = restored.Update(ts[i], values[i]);
            TestSupport.AssertBitIdentical(expected, actual, $"{name} reading {i}");
            alarms += expected.OutOfBand ? 1 : 0;
        }

        Assert.Equal(TestSupport.StateBytes(original), TestSupport.StateBytes(restored));
        Assert.True(alarms > 0, "the continuation should exercise the alarm path");
    }

    [Theory]
    [MemberData(nameof(Specs))]
    public void Should_start_the_state_with_a_version_byte_and_reject_unknown_versions(string name)
    {
        // Arrange
        var detector = Create(name);
        detector.Update(1000, 50);
        var state = TestSupport.StateBytes(detector);
        var fresh = Create(name);
        var freshState = TestSupport.StateBytes(fresh);
        state[0] = 99;

        // Act
        var error = Assert.Throws<InvalidDataException>(() => TestSupport.Restore(fresh, state));

        // Assert
        Assert.Contains("version", error.Message);
        Assert.InRange(freshState[0], (byte)1, (byte)98); // a version this build writes, never the unknown 99
        Assert.Equal(freshState, TestSupport.StateBytes(fresh));
    }

    [Theory]
    [MemberData(nameof(Specs))]
    public void Should_leave_the_state_unchanged_when_the_snapshot_is_truncated(string name)
    {
        // Arrange
        var source = Create(name);
        var target = Create(name);
        var (ts, values) = Series(300, 3);
        for (var i = 0; i < values.Length; i++)
        {
            source.Update(ts[i], values[i]);
            target.Update(ts[i], values[i] + 1);
        }

        var state = TestSupport.StateBytes(source);
        var before = TestSupport.StateBytes(target);

        // Act
        Assert.Throws<EndOfStreamException>(() => TestSupport.Restore(target, state[..^1]));

        // Assert
        Assert.Equal(before, TestSupport.StateBytes(target));
    }

    [Theory]
    [MemberData(nameof(Specs))]
    public void Should_not_allocate_in_Update_after_warm_up(string name)
    {
        // Arrange
        var (ts, values) = Series(102_000, 4);
        IDetector? detector = null;

        // Act and assert: a fresh detector per attempt, warmed up, then timed over the rest of the series.
        TestSupport.AssertAllocatesNothing(() =>
        {
            var fresh = Create(name);
            detector = fresh;
            for (var i = 0; i < 2000; i++)
            {
                fresh.Update(ts[i], values[i]);
            }

            return () =>
            {
                for (var i = 2000; i < values.Length; i++)
                {
                    fresh.Update(ts[i], values[i]);
                }
            };
        });

        Assert.Equal(values.Length, detector!.Count);
    }

    [Theory]
    [MemberData(nameof(Specs))]
    public void Should_report_its_kind_and_count_readings(string name)
    {
        // Arrange
        var spec = SpecsByName[name];
        var detector = spec.Create();

        // Act
        detector.Update(0, 50);
        detector.Update(1000, 51);

        // Assert
        Assert.Equal(spec.Kind, detector.Kind);
        Assert.Equal(2, detector.Count);
    }
}

public class DetectorSpecSpecs
{
    [Fact]
    public void Should_create_the_configured_detector()
    {
        // Arrange
        var ewma = DetectorSpec.Ewma(EwmaBandOptions.Notebook);
        var wz = DetectorSpec.WindowZ(new WindowZScoreOptions(windowMs: 5000));
        var thr = DetectorSpec.Threshold(new ThresholdOptions(min: 1, max: 2));
        var rcf = DetectorSpec.Rcf(new RcfOptions(trees: 7, shingleSize: 3));

        // Act
        var e = Assert.IsType<EwmaBand>(ewma.Create());
        var w = Assert.IsType<WindowZScore>(wz.Create());
        var t = Assert.IsType<ThresholdDetector>(thr.Create());
        var r = Assert.IsType<RcfDetector>(rcf.Create());

        // Assert
        Assert.Same(EwmaBandOptions.Notebook, e.Options);
        Assert.Equal(5000, w.Options.WindowMs);
        Assert.Equal(2.0, t.Options.Max);
        Assert.Equal(7, r.Options.Trees);
        Assert.Equal(3, r.Options.ShingleSize);
        Assert.Equal(["ewma", "wz", "thr", "rcf"], new[] { ewma.Kind, wz.Kind, thr.Kind, rcf.Kind });
        Assert.Equal(["ewma", "wz", "thr", "rcf", "rcfl"], DetectorSpec.Kinds);
    }

    [Fact]
    public void Should_compare_by_value()
    {
        // Arrange / Act
        var a = DetectorSpec.Ewma(new EwmaBandOptions(window: 30));
        var b = DetectorSpec.Ewma(new EwmaBandOptions(window: 30));
        var c = DetectorSpec.Ewma(new EwmaBandOptions(window: 31));

        // Assert
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
        Assert.NotEqual(DetectorSpec.Default, DetectorSpec.WindowZ());
    }

    [Fact]
    public void Should_build_defaults_by_kind_and_reject_unknown_kinds()
    {
        // Act
        var ewma = DetectorSpec.ForKind("ewma");
        var wz = DetectorSpec.ForKind("wz");
        var rcf = DetectorSpec.ForKind("rcf");
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => DetectorSpec.ForKind("nope"));

        // Assert
        Assert.Equal(DetectorSpec.Default, ewma);
        Assert.Equal(WindowZScoreOptions.Default, wz.Options);
        Assert.Equal(RcfOptions.Default, rcf.Options);
        Assert.Equal(DetectorSpec.Rcf(), rcf);
        Assert.Equal("kind", error.ParamName);
    }
}
