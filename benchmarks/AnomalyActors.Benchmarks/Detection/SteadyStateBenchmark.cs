using AnomalyActors.Detection;
using BenchmarkDotNet.Attributes;

namespace AnomalyActors.Benchmarks.Detection;

/// <summary>
/// Per-reading cost of a detector (score + update) in steady state, over five-minute readings of a
/// daily cycle plus noise and the odd spike (the shape of the NAB series): warmed on 20,000 readings
/// first, so a forest's reservoir is full and evictions happen at their long-run rate.
/// </summary>
[MemoryDiagnoser]
public abstract class SteadyStateBenchmark
{
    private const int Batch = 1000;
    private const int Warmup = 20_000;
    private const long FiveMinutesMs = 300_000;
    private IDetector _detector = null!;
    private double[] _values = null!;
    private long _t;

    /// <summary>The detector under test, with the benchmark's parameters.</summary>
    protected abstract IDetector Create();

    /// <summary>Checks the warmed detector is in the state the benchmark means to measure.</summary>
    protected virtual void Warmed(IDetector detector)
    {
    }

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(7);
        _values = new double[1 << 16];
        for (var i = 0; i < _values.Length; i++)
        {
            _values[i] = (10 * Math.Sin(i * 2 * Math.PI / 288)) + random.NextDouble() + (random.NextDouble() < 0.002 ? 30 : 0);
        }

        _detector = Create();
        for (var i = 0; i < Warmup; i++)
        {
            Step();
        }

        Warmed(_detector);
    }

    private void Step()
    {
        var t = _t++;
        _detector.Update(t * FiveMinutesMs, _values[t & (_values.Length - 1)]);
    }

    [Benchmark(OperationsPerInvoke = Batch)]
    public void UpdateAndScore()
    {
        for (var i = 0; i < Batch; i++)
        {
            Step();
        }
    }
}
