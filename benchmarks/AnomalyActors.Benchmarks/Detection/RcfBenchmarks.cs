using AnomalyActors.Detection.Rcf;
using BenchmarkDotNet.Attributes;

namespace AnomalyActors.Benchmarks.Detection;

/// <summary>
/// Per-reading cost of RCF (score + update, 50 trees, sample 256) in steady state: the forest is warmed on
/// 20,000 readings first so the reservoir is full and evictions happen at their long-run rate.
/// </summary>
[MemoryDiagnoser]
public class RcfBenchmarks
{
    private const int Batch = 1000;
    private RcfDetector _detector = null!;
    private double[] _values = null!;
    private long _t;

    [Params(1, 8)]
    public int Shingle { get; set; }

    [Params(50)]
    public int Trees { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(7);
        _values = new double[1 << 16];
        for (var i = 0; i < _values.Length; i++)
        {
            // Daily-like cycle plus noise and the odd spike: the shape of the NAB series.
            _values[i] = (10 * Math.Sin(i * 2 * Math.PI / 288)) + random.NextDouble() + (random.NextDouble() < 0.002 ? 30 : 0);
        }

        _detector = new RcfDetector(new RcfOptions(trees: Trees, sampleSize: 256, shingleSize: Shingle, seed: 42));
        for (var i = 0; i < 20_000; i++)
        {
            Step();
        }
    }

    private void Step()
    {
        var t = _t++;
        _detector.Update(t * 300_000, _values[t & (_values.Length - 1)]);
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
