using AnomalyActors.Detection.Rcf;
using BenchmarkDotNet.Attributes;

namespace AnomalyActors.Benchmarks.Detection;

/// <summary>
/// Per-reading cost of the likelihood RCF detector (NAB best options) with and without its learned daily
/// cycle, in steady state: warmed on 20,000 five-minute readings first, so the forest's reservoir is full
/// and the cycle explains the stream (its residuals are being scored).
/// </summary>
[MemoryDiagnoser]
public class LikelihoodRcfBenchmarks
{
    private const int Batch = 1000;
    private LikelihoodRcf _detector = null!;
    private double[] _values = null!;
    private long _t;

    [Params(false, true)]
    public bool Seasonal { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(7);
        _values = new double[1 << 16];
        for (var i = 0; i < _values.Length; i++)
        {
            // A daily cycle (288 five-minute readings) plus noise and the odd spike.
            _values[i] = (10 * Math.Sin(i * 2 * Math.PI / 288)) + random.NextDouble() + (random.NextDouble() < 0.002 ? 30 : 0);
        }

        _detector = new LikelihoodRcf(new LikelihoodRcfOptions(seasonal: Seasonal));
        for (var i = 0; i < 20_000; i++)
        {
            Step();
        }

        if (Seasonal && _detector.Seasonal is { Strong: false })
        {
            throw new InvalidOperationException("The daily cycle should explain the warmed stream; the benchmark would not measure its scoring.");
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
