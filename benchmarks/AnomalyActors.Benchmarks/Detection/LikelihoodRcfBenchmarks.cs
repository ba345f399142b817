using AnomalyActors.Detection;
using AnomalyActors.Detection.Rcf;
using BenchmarkDotNet.Attributes;

namespace AnomalyActors.Benchmarks.Detection;

/// <summary>
/// Per-reading cost of the likelihood RCF detector (NAB best options) in steady state, with and without
/// its learned daily cycle (warmed until the cycle explains the stream, so its residuals are scored).
/// </summary>
public class LikelihoodRcfBenchmarks : SteadyStateBenchmark
{
    [Params(false, true)]
    public bool Seasonal { get; set; }

    protected override IDetector Create() => new LikelihoodRcf(new LikelihoodRcfOptions(seasonal: Seasonal));

    protected override void Warmed(IDetector detector)
    {
        if (Seasonal && ((LikelihoodRcf)detector).Seasonal is { Strong: false })
        {
            throw new InvalidOperationException("The daily cycle should explain the warmed stream; the benchmark would not measure its scoring.");
        }
    }
}
