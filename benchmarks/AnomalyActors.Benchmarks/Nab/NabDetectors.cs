using AnomalyActors.Detection;
using AnomalyActors.Detection.Rcf;

namespace AnomalyActors.Benchmarks.Nab;

/// <summary>A per-series online scorer: one score in [0, 1] per reading, from that reading and earlier ones only.</summary>
internal interface INabStream
{
    double Next(long timestampMs, double value);
}

/// <summary>Named detector configurations: one configuration for the whole corpus, nothing per file.</summary>
internal static class NabDetectors
{
    private const long Hour = 3_600_000;

    private static readonly Dictionary<string, Func<INabStream>> Configs = new(StringComparer.Ordinal)
    {
        // The library's grade is the NAB score: 0 inside the band, d/(1+d) outside.
        ["ewma-notebook"] = () => new GradeStream(new EwmaBand(EwmaBandOptions.Notebook)),
        // Talend's 20 s windows hold one 5-minute NAB reading; a sliding day (hourly panes) is the closest
        // meaningful window-z configuration for these series.
        ["window-zscore"] = () => new GradeStream(new WindowZScore(new WindowZScoreOptions(windowMs: 24 * Hour, slideMs: Hour, threshold: 2.0))),
        // Defaults, raw forest score (one corpus-wide threshold on it, as AWS's NAB entry): monotone squash only.
        ["rcf"] = () => new RcfStream(new RcfDetector(RcfOptions.Default)),
        // RCF (defaults) scored the way NAB's HTM entry is: anomaly likelihood of the raw score, range novelty,
        // detection spacing (see LikelihoodRcf). The same detector the actors run as type rcf-likelihood.
        ["best"] = () => new ScoreStream(new LikelihoodRcf(LikelihoodRcfOptions.NabBest)),
        // best with its learned daily cycle on (hocon rcf-likelihood with seasonal = on).
        ["best-seasonal"] = () => new ScoreStream(new LikelihoodRcf(Seasonal(LikelihoodRcfOptions.NabBest))),
    };

    public static IEnumerable<string> Names => Configs.Keys;

    /// <summary>
    /// The configurations a named one was chosen from, itself first: what an honest out-of-sample estimate
    /// must choose among again without the held-out files. The fixed configurations (library defaults and
    /// published detectors' settings, not tuned on NAB) are families of one, so only their threshold is chosen.
    /// </summary>
    public static IReadOnlyList<(string Label, Func<INabStream> Create)> Family(string name)
    {
        var named = Get(name);
        if (name is not ("best" or "best-seasonal"))
        {
            return [(name, named)];
        }

        // Every constant of best that was tuned on these files, over the values that were tried.
        var family = new List<(string, Func<INabStream>)> { (name, named) };
        var nab = name == "best" ? LikelihoodRcfOptions.NabBest : Seasonal(LikelihoodRcfOptions.NabBest);
        foreach (var averaging in new[] { 20, 40, 80, 120 })
        {
            foreach (var hold in new[] { 0, 100, 200, 300 })
            {
                foreach (var warmup in new[] { 150, 300 })
                {
                    var likelihood = new AnomalyLikelihoodOptions(learningPeriod: nab.Likelihood.LearningPeriod, estimationSamples: nab.Likelihood.EstimationSamples, averagingWindow: averaging);
                    var options = new LikelihoodRcfOptions(likelihood: likelihood, rangeWarmup: warmup, spacingHold: hold, seasonal: nab.Seasonal is not null);
                    if (options == nab)
                    {
                        continue;
                    }

                    family.Add(($"averaging {averaging}, spacing {hold}, range warm-up {warmup}", () => new ScoreStream(new LikelihoodRcf(options))));
                }
            }
        }

        return family;
    }

    private static LikelihoodRcfOptions Seasonal(LikelihoodRcfOptions o) => new(
        o.Rcf, o.Likelihood, o.RangeTolerance, o.RangeWarmup, o.SpacingTrigger, o.SpacingHold, o.SpacingFactor, o.Threshold, seasonal: true);

    public static Func<INabStream> Get(string name) =>
        Configs.TryGetValue(name, out var f)
            ? f
            : throw new ArgumentException($"Unknown detector '{name}'. Known: {string.Join(", ", Configs.Keys)}.");

    private sealed class GradeStream(IDetector detector) : INabStream
    {
        public double Next(long timestampMs, double value)
        {
            var s = detector.Update(timestampMs, value);
            return s.OutOfBand ? s.Grade : 0;
        }
    }

    private sealed class RcfStream(RcfDetector detector) : INabStream
    {
        public double Next(long timestampMs, double value)
        {
            detector.Update(timestampMs, value);
            return detector.Ready ? Squash(detector.LastScore, 2) : 0;
        }
    }

    private static double Squash(double x, double half) => x > 0 ? x / (x + half) : 0;

    /// <summary>
    /// The library's <see cref="LikelihoodRcf"/> (NAB <c>best</c> options): its grade, below the threshold too,
    /// is the per-row score, so NAB's threshold sweep sees the full score and not only the alarms.
    /// </summary>
    private sealed class ScoreStream(IDetector detector) : INabStream
    {
        public double Next(long timestampMs, double value) => detector.Update(timestampMs, value).Grade;
    }
}
