using AnomalyActors.Detection;
using AnomalyActors.Detection.Rcf;
using BenchmarkDotNet.Attributes;

namespace AnomalyActors.Benchmarks.Detection;

/// <summary>Per-reading cost of RCF (50 trees, sample 256) in steady state, with and without shingles.</summary>
public class RcfBenchmarks : SteadyStateBenchmark
{
    [Params(1, 8)]
    public int Shingle { get; set; }

    [Params(50)]
    public int Trees { get; set; }

    protected override IDetector Create() => new RcfDetector(new RcfOptions(trees: Trees, sampleSize: 256, shingleSize: Shingle, seed: 42));
}
