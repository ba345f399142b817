using System.Text.RegularExpressions;
using Akka.Configuration;
using Akka.Configuration.Hocon;
using AnomalyActors.Core.State;
using AnomalyActors.Detection;
using AnomalyActors.Detection.Rcf;

namespace AnomalyActors.Node.Settings;

/// <summary>
/// Which detectors each stream gets: a default list and glob overrides over the stream key
/// (first match wins). Detector blocks are parsed and validated once, at start-up.
/// </summary>
public sealed class DetectionSettings
{
    private readonly IReadOnlyList<(Regex Match, string Pattern, DetectorOptions[] Detectors)> _overrides;

    public DetectionSettings(DetectorOptions[] defaults, IReadOnlyList<(string Pattern, DetectorOptions[] Detectors)> overrides)
    {
        ArgumentNullException.ThrowIfNull(defaults);
        if (defaults.Length == 0)
        {
            throw new ArgumentException("At least one default detector is needed.", nameof(defaults));
        }

        Defaults = defaults;
        _overrides = overrides.Select(o => (GlobToRegex(o.Pattern), o.Pattern, o.Detectors)).ToArray();
    }

    public DetectorOptions[] Defaults { get; }

    public DetectorOptions[] OptionsFor(string streamKey)
    {
        foreach (var (match, _, detectors) in _overrides)
        {
            if (match.IsMatch(streamKey))
            {
                return detectors;
            }
        }

        return Defaults;
    }

    public DetectorSet CreateFor(string streamKey)
    {
        var options = OptionsFor(streamKey);
        var detectors = new IDetector[options.Length];
        for (var i = 0; i < options.Length; i++)
        {
            detectors[i] = options[i].Create();
        }

        // Records print every option value, so the text changes exactly when the configuration does.
        return new DetectorSet(detectors, string.Join("|", options.Select(o => o.ToString())));
    }

    public static DetectionSettings FromConfig(Config c, string source)
    {
        var blocks = c.GetConfig("detectors");
        if (blocks is null || blocks.IsEmpty)
        {
            throw new ConfigurationException($"Missing configuration section 'anomaly-actors.detection.detectors' ({source}).");
        }

        DetectorOptions[] Resolve(IList<string> names, string key)
        {
            if (names.Count == 0)
            {
                throw new ConfigurationException($"'{key}' lists no detector ({source}).");
            }

            return names.Select(name =>
            {
                var block = blocks.GetConfig(name);
                if (block is null || block.IsEmpty)
                {
                    throw new ConfigurationException(
                        $"'{key}' names detector '{name}', but there is no block 'anomaly-actors.detection.detectors.{name}' ({source}).");
                }

                return DetectorConfigReader.Read(block, $"anomaly-actors.detection.detectors.{name}", source);
            }).ToArray();
        }

        var defaults = Resolve(c.GetStringList("default"), "anomaly-actors.detection.default");
        var overrides = new List<(string, DetectorOptions[])>();
        var overrideList = c.GetValue("overrides");
        if (overrideList is not null && !overrideList.IsEmpty)
        {
            var i = 0;
            foreach (var entry in overrideList.GetArray())
            {
                var key = $"anomaly-actors.detection.overrides[{i++}]";
                var obj = new Config(new HoconRoot(entry));
                var pattern = obj.GetString("match", null)
                    ?? throw new ConfigurationException($"'{key}.match' is missing ({source}).");
                overrides.Add((pattern, Resolve(obj.GetStringList("detectors"), key + ".detectors")));
            }
        }

        return new DetectionSettings(defaults, overrides);
    }

    private static Regex GlobToRegex(string pattern)
    {
        var escaped = Regex.Escape(pattern).Replace("\\*", "[^/]*", StringComparison.Ordinal).Replace("\\?", "[^/]", StringComparison.Ordinal);
        return new Regex("^" + escaped + "$", RegexOptions.CultureInvariant | RegexOptions.Compiled);
    }
}

/// <summary>Turns one detector block (<c>type = ...</c> plus its parameters) into validated options.</summary>
public static class DetectorConfigReader
{
    public static DetectorOptions Read(Config block, string path, string source)
    {
        var type = block.GetString("type", null)
            ?? throw new ConfigurationException($"'{path}.type' is missing ({source}).");
        try
        {
            return type switch
            {
                "ewma" => ReadEwma(block, path, source),
                "window-zscore" => new WindowZScoreOptions(
                    windowMs: (long)block.GetTimeSpan("window", TimeSpan.FromSeconds(20)).TotalMilliseconds,
                    slideMs: block.HasPath("slide") ? (long)block.GetTimeSpan("slide").TotalMilliseconds : null,
                    threshold: block.GetDouble("threshold", 2.0)),
                "threshold" => new ThresholdOptions(
                    min: block.GetDouble("min", double.NegativeInfinity),
                    max: block.GetDouble("max", double.PositiveInfinity),
                    scale: block.HasPath("scale") ? block.GetDouble("scale") : null),
                "rcf" => ReadRcf(block, path, source, withThresholder: true),
                "rcf-likelihood" => ReadLikelihoodRcf(block, path, source),
                _ => throw new ConfigurationException(
                    $"'{path}.type' is '{type}'; known types: {string.Join(", ", KnownTypes)} ({source})."),
            };
        }
        catch (ArgumentException e)
        {
            throw new ConfigurationException($"'{path}': {e.Message} ({source}).", e);
        }
    }

    public static IReadOnlyList<string> KnownTypes { get; } = ["ewma", "window-zscore", "threshold", "rcf", "rcf-likelihood"];

    /// <summary>
    /// Forest keys (both RCF types): trees, sample-size, time-decay, shingle-size, output-after, seed; plain rcf
    /// also reads its adaptive thresholder: threshold-horizon, threshold-z-factor, threshold-minimum-score,
    /// threshold-warm-up. One metric per reading (a stream is one series).
    /// </summary>
    private static RcfOptions ReadRcf(Config c, string path, string source, bool withThresholder)
    {
        var defaults = RcfOptions.Default;
        var seed = c.GetLong("seed", (long)defaults.Seed);
        if (seed < 0)
        {
            throw new ConfigurationException($"'{path}.seed' is {seed}; expected a non-negative integer ({source}).");
        }

        RcfThresholdOptions? threshold = null;
        if (withThresholder)
        {
            var t = defaults.Threshold;
            threshold = new RcfThresholdOptions(
                horizon: c.GetInt("threshold-horizon", t.Horizon),
                zFactor: c.GetDouble("threshold-z-factor", t.ZFactor),
                minimumScore: c.GetDouble("threshold-minimum-score", t.MinimumScore),
                warmup: c.GetInt("threshold-warm-up", t.Warmup));
        }

        return new RcfOptions(
            trees: c.GetInt("trees", defaults.Trees),
            sampleSize: c.GetInt("sample-size", defaults.SampleSize),
            timeDecay: c.HasPath("time-decay") ? c.GetDouble("time-decay") : null,
            shingleSize: c.GetInt("shingle-size", defaults.ShingleSize),
            outputAfter: c.HasPath("output-after") ? c.GetInt("output-after") : null,
            seed: (ulong)seed,
            threshold: threshold);
    }

    /// <summary>
    /// The forest keys of <see cref="ReadRcf"/> plus the likelihood (learning-period, estimation-samples,
    /// historic-window, reestimation-period, averaging-window, min-mean, min-variance, two-sided, filter-repeats),
    /// range novelty (range-tolerance, range-warm-up), spacing (spacing-trigger, spacing-hold, spacing-factor) and
    /// the alarm threshold on the grade (threshold). Every default is the NAB best configuration.
    /// </summary>
    private static LikelihoodRcfOptions ReadLikelihoodRcf(Config c, string path, string source)
    {
        var d = LikelihoodRcfOptions.NabBest;
        var l = d.Likelihood;
        return new LikelihoodRcfOptions(
            rcf: ReadRcf(c, path, source, withThresholder: false),
            likelihood: new AnomalyLikelihoodOptions(
                learningPeriod: c.GetInt("learning-period", l.LearningPeriod),
                estimationSamples: c.GetInt("estimation-samples", l.EstimationSamples),
                historicWindow: c.GetInt("historic-window", l.HistoricWindow),
                reestimationPeriod: c.GetInt("reestimation-period", l.ReestimationPeriod),
                averagingWindow: c.GetInt("averaging-window", l.AveragingWindow),
                minMean: c.GetDouble("min-mean", l.MinMean),
                minVariance: c.GetDouble("min-variance", l.MinVariance),
                twoSided: c.GetBoolean("two-sided", l.TwoSided),
                filterRepeats: c.GetBoolean("filter-repeats", l.FilterRepeats)),
            rangeTolerance: c.GetDouble("range-tolerance", d.RangeTolerance),
            rangeWarmup: c.GetInt("range-warm-up", d.RangeWarmup),
            spacingTrigger: c.GetDouble("spacing-trigger", d.SpacingTrigger),
            spacingHold: c.GetInt("spacing-hold", d.SpacingHold),
            spacingFactor: c.GetDouble("spacing-factor", d.SpacingFactor),
            threshold: c.GetDouble("threshold", d.Threshold));
    }

    private static EwmaBandOptions ReadEwma(Config c, string path, string source)
    {
        var defaults = EwmaBandOptions.Default;
        var mode = c.GetString("sigma-mode", "population");
        return new EwmaBandOptions(
            alpha: c.GetDouble("alpha", defaults.Alpha),
            warmupAlpha: c.GetDouble("warm-up-alpha", defaults.WarmupAlpha),
            warmupReadings: c.GetInt("warm-up-readings", defaults.WarmupReadings),
            window: c.GetInt("window", defaults.Window),
            gamma: c.GetDouble("sigma-alpha", defaults.Gamma),
            k: c.GetDouble("band-width", defaults.K),
            alarmAfter: c.HasPath("alarm-after") ? c.GetLong("alarm-after") : null,
            sigmaMode: mode switch
            {
                "population" => SigmaMode.Population,
                "notebook" => SigmaMode.Notebook,
                _ => throw new ConfigurationException($"'{path}.sigma-mode' is '{mode}'; expected population or notebook ({source})."),
            },
            minBandWidth: c.GetDouble("min-band", defaults.MinBandWidth),
            minRelativeBandWidth: c.GetDouble("min-relative-band", defaults.MinRelativeBandWidth));
    }
}
