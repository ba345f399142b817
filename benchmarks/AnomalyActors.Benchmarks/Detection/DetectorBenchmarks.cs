using AnomalyActors.Detection;
using BenchmarkDotNet.Attributes;

namespace AnomalyActors.Benchmarks.Detection;

/// <summary>
/// Per-reading cost of <see cref="IDetector.Update"/> for each non-RCF detector kind in steady state.
/// Every invocation feeds the same 4,096 pre-generated values; OperationsPerInvoke turns the figure into
/// nanoseconds (and bytes) per reading.
/// </summary>
/// <remarks>
/// Timestamps keep advancing across invocations: replaying the same timestamps would make WindowZScore
/// treat every reading as late (clamped into one pane), which is not the cost a live stream pays.
/// Detectors are held as <see cref="IDetector"/> because that is how the node calls them.
/// </remarks>
[MemoryDiagnoser]
public class DetectorBenchmarks
{
    private const int Batch = 4096;
    private const long Second = 1000;
    private const long Minute = 60 * Second;
    private const long Hour = 60 * Minute;

    // One reading per second for the Talend setting (20 s tumbling windows: 20 readings per window);
    // one per 5 minutes for the NAB setting (24 h window sliding by 1 h: 24 panes, 288 readings).
    private const long TalendIntervalMs = Second;
    private const long NabIntervalMs = 5 * Minute;

    private double[] _values = null!;
    private Series _ewmaDefault = null!;
    private Series _ewmaNotebook = null!;
    private Series _windowTumbling = null!;
    private Series _windowSliding = null!;
    private Series _threshold = null!;

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(11);
        _values = new double[Batch];
        for (var i = 0; i < _values.Length; i++)
        {
            // Daily-like cycle plus noise and the odd spike, as in RcfBenchmarks, so alarms fire now and
            // then and the out-of-band grading path is part of the measurement.
            _values[i] = (10 * Math.Sin(i * 2 * Math.PI / 288)) + random.NextDouble() + (random.NextDouble() < 0.002 ? 30 : 0);
        }

        _ewmaDefault = new Series(new EwmaBand(EwmaBandOptions.Default), TalendIntervalMs);
        _ewmaNotebook = new Series(new EwmaBand(EwmaBandOptions.Notebook), TalendIntervalMs);
        _windowTumbling = new Series(new WindowZScore(WindowZScoreOptions.Default), TalendIntervalMs);
        _windowSliding = new Series(
            new WindowZScore(new WindowZScoreOptions(windowMs: 24 * Hour, slideMs: Hour, threshold: 2.0)), NabIntervalMs);
        _threshold = new Series(new ThresholdDetector(new ThresholdOptions(min: -11, max: 11)), TalendIntervalMs);

        // Five batches: past EwmaBand's alarm arming (50 * window = 1,000 readings) and more than one
        // full 24 h sliding window (288 readings), so no benchmark measures a warm-up path.
        for (var i = 0; i < 5; i++)
        {
            EwmaDefault();
            EwmaNotebook();
            WindowZScoreTumbling();
            WindowZScoreSliding();
            Threshold();
        }
    }

    [Benchmark(OperationsPerInvoke = Batch)]
    public double EwmaDefault() => _ewmaDefault.Run(_values);

    [Benchmark(OperationsPerInvoke = Batch)]
    public double EwmaNotebook() => _ewmaNotebook.Run(_values);

    [Benchmark(OperationsPerInvoke = Batch)]
    public double WindowZScoreTumbling() => _windowTumbling.Run(_values);

    [Benchmark(OperationsPerInvoke = Batch)]
    public double WindowZScoreSliding() => _windowSliding.Run(_values);

    [Benchmark(OperationsPerInvoke = Batch)]
    public double Threshold() => _threshold.Run(_values);

    /// <summary>A detector with its own event clock, so each one sees an evenly spaced stream.</summary>
    private sealed class Series(IDetector detector, long intervalMs)
    {
        private long _clockMs;

        // The summed grade is returned so the JIT cannot drop the Update calls as dead code.
        public double Run(double[] values)
        {
            var t = _clockMs;
            var grades = 0.0;
            for (var i = 0; i < values.Length; i++)
            {
                t += intervalMs;
                grades += detector.Update(t, values[i]).Grade;
            }

            _clockMs = t;
            return grades;
        }
    }
}
