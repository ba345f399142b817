using Akka.Configuration;
using Akka.Configuration.Hocon;
using AnomalyActors.Core.Configuration;
using AnomalyActors.Core.Protocol;
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
    private readonly IReadOnlyList<(StreamGlob Match, string Pattern, DetectorOptions[] Detectors)> _overrides;

    public DetectionSettings(DetectorOptions[] defaults, IReadOnlyList<(string Pattern, DetectorOptions[] Detectors)> overrides)
    {
        ArgumentNullException.ThrowIfNull(defaults);
        if (defaults.Length == 0)
        {
            throw new ArgumentException("At least one default detector is needed.", nameof(defaults));
        }

        Defaults = defaults;
        _overrides = overrides.Select(o => (new StreamGlob(o.Pattern), o.Pattern, o.Detectors)).ToArray();
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

    /// <summary>
    /// Every block under <c>detectors</c> is read and checked, used or not, so a typo in a block kept
    /// for later is found now rather than the day it is switched on.
    /// </summary>
    public static DetectionSettings FromConfig(SettingsReader c)
    {
        var blocks = c.Child("detectors");
        var options = new Dictionary<string, DetectorOptions>(StringComparer.Ordinal);
        foreach (var (name, _) in blocks.Section.Root.GetObject().Items)
        {
            options[name] = DetectorConfigReader.Read(blocks.Child(name));
        }

        DetectorOptions[] Resolve(IReadOnlyList<string> names, string key)
        {
            if (names.Count == 0)
            {
                throw new ConfigurationException($"'{key}' lists no detector ({c.Origin.Of(key)}).");
            }

            return names.Select(name => options.TryGetValue(name, out var detector)
                ? detector
                : throw new ConfigurationException(
                    $"'{key}' names detector '{name}', but there is no block '{blocks.Key(name)}' ({c.Origin.Of(key)}); the blocks are {string.Join(", ", options.Keys)}.")).ToArray();
        }

        var defaults = Resolve(c.List("default"), c.Key("default"));
        var overrides = new List<(string, DetectorOptions[])>();
        c.Has("overrides");
        var overrideList = c.Section.GetValue("overrides");
        if (overrideList is not null && !overrideList.IsEmpty)
        {
            var i = 0;
            foreach (var entry in overrideList.GetArray())
            {
                var block = SettingsReader.ForBlock(new Config(new HoconRoot(entry)), $"{c.Key("overrides")}[{i++}]", c.Origin);
                overrides.Add((block.Text("match"), Resolve(block.List("detectors"), block.Key("detectors"))));
                block.RejectUnknownKeys();
            }
        }

        return new DetectionSettings(defaults, overrides);
    }
}

/// <summary>
/// Turns one detector block (<c>type = ...</c> plus its parameters) into validated options. The keys a
/// type reads are the keys it knows: any other key in the block is refused with the nearest known one.
/// </summary>
public static class DetectorConfigReader
{
    public static IReadOnlyList<string> KnownTypes { get; } = ["ewma", "window-zscore", "threshold", "rcf", "rcf-likelihood"];

    public static DetectorOptions Read(SettingsReader block)
    {
        var type = block.Text("type");
        DetectorOptions options;
        try
        {
            options = type switch
            {
                "ewma" => ReadEwma(block),
                "window-zscore" => new WindowZScoreOptions(
                    windowMs: (long)block.PositiveDuration("window", TimeSpan.FromSeconds(20)).TotalMilliseconds,
                    slideMs: block.Has("slide") ? (long)block.PositiveDuration("slide").TotalMilliseconds : null,
                    threshold: block.Number("threshold", 2.0)),
                "threshold" => new ThresholdOptions(
                    min: block.Number("min", double.NegativeInfinity),
                    max: block.Number("max", double.PositiveInfinity),
                    scale: block.Has("scale") ? block.Number("scale") : null),
                "rcf" => ReadRcf(block, withThresholder: true),
                "rcf-likelihood" => ReadLikelihoodRcf(block),
                _ => throw block.Invalid("type", type, string.Join(", ", KnownTypes)),
            };
        }
        catch (ArgumentException e)
        {
            throw new ConfigurationException($"'{block.Path}': {e.Message} ({block.Origin.Of(block.Key("type"))}).", e);
        }

        block.RejectUnknownKeys();
        return options;
    }

    /// <summary>
    /// Forest keys (both RCF types): trees, sample-size, time-decay, shingle-size, output-after, seed; plain rcf
    /// also reads its adaptive thresholder: threshold-horizon, threshold-z-factor, threshold-minimum-score,
    /// threshold-warm-up. One metric per reading (a stream is one series).
    /// </summary>
    private static RcfOptions ReadRcf(SettingsReader c, bool withThresholder)
    {
        var defaults = RcfOptions.Default;
        var seed = c.Has("seed") ? c.Long("seed", minimum: 0) : (long)defaults.Seed;
        RcfThresholdOptions? threshold = null;
        if (withThresholder)
        {
            var t = defaults.Threshold;
            threshold = new RcfThresholdOptions(
                horizon: c.Int("threshold-horizon", t.Horizon, int.MinValue, int.MaxValue),
                zFactor: c.Number("threshold-z-factor", t.ZFactor),
                minimumScore: c.Number("threshold-minimum-score", t.MinimumScore),
                warmup: c.Int("threshold-warm-up", t.Warmup, int.MinValue, int.MaxValue));
        }

        return new RcfOptions(
            trees: c.Int("trees", defaults.Trees, int.MinValue, int.MaxValue),
            sampleSize: c.Int("sample-size", defaults.SampleSize, int.MinValue, int.MaxValue),
            timeDecay: c.Has("time-decay") ? c.Number("time-decay") : null,
            shingleSize: c.Int("shingle-size", defaults.ShingleSize, int.MinValue, int.MaxValue),
            outputAfter: c.Has("output-after") ? c.Int("output-after", int.MinValue) : null,
            seed: (ulong)seed,
            threshold: threshold);
    }

    /// <summary>
    /// The forest keys of <see cref="ReadRcf"/> plus the likelihood (learning-period, estimation-samples,
    /// historic-window, reestimation-period, averaging-window, min-mean, min-variance, two-sided, filter-repeats),
    /// range novelty (range-tolerance, range-warm-up), spacing (spacing-trigger, spacing-hold, spacing-factor), the
    /// learned cycle (seasonal, seasonal-period, seasonal-slot, seasonal-min-cycles, seasonal-alpha, seasonal-strength,
    /// seasonal-variance-window) and the alarm threshold on the grade (threshold). Every default is the NAB best configuration.
    /// </summary>
    private static LikelihoodRcfOptions ReadLikelihoodRcf(SettingsReader c)
    {
        var d = LikelihoodRcfOptions.NabBest;
        var l = d.Likelihood;
        var s = d.Seasonal ?? SeasonalResidualOptions.Daily;
        return new LikelihoodRcfOptions(
            rcf: ReadRcf(c, withThresholder: false),
            likelihood: new AnomalyLikelihoodOptions(
                learningPeriod: c.Int("learning-period", l.LearningPeriod, int.MinValue, int.MaxValue),
                estimationSamples: c.Int("estimation-samples", l.EstimationSamples, int.MinValue, int.MaxValue),
                historicWindow: c.Int("historic-window", l.HistoricWindow, int.MinValue, int.MaxValue),
                reestimationPeriod: c.Int("reestimation-period", l.ReestimationPeriod, int.MinValue, int.MaxValue),
                averagingWindow: c.Int("averaging-window", l.AveragingWindow, int.MinValue, int.MaxValue),
                minMean: c.Number("min-mean", l.MinMean),
                minVariance: c.Number("min-variance", l.MinVariance),
                twoSided: c.Flag("two-sided", l.TwoSided),
                filterRepeats: c.Flag("filter-repeats", l.FilterRepeats)),
            rangeTolerance: c.Number("range-tolerance", d.RangeTolerance),
            rangeWarmup: c.Int("range-warm-up", d.RangeWarmup, int.MinValue, int.MaxValue),
            spacingTrigger: c.Number("spacing-trigger", d.SpacingTrigger),
            spacingHold: c.Int("spacing-hold", d.SpacingHold, int.MinValue, int.MaxValue),
            spacingFactor: c.Number("spacing-factor", d.SpacingFactor),
            threshold: c.Number("threshold", d.Threshold),
            seasonal: c.Flag("seasonal", d.Seasonal is not null),
            seasonalOptions: new SeasonalResidualOptions(
                period: c.PositiveDuration("seasonal-period", TimeSpan.FromMilliseconds(s.PeriodMs)),
                slot: c.PositiveDuration("seasonal-slot", TimeSpan.FromMilliseconds(s.SlotMs)),
                minCycles: c.Int("seasonal-min-cycles", s.MinCycles, int.MinValue, int.MaxValue),
                profileAlpha: c.Number("seasonal-alpha", s.ProfileAlpha),
                strength: c.Number("seasonal-strength", s.Strength),
                varianceWindow: c.Int("seasonal-variance-window", s.VarianceWindow, int.MinValue, int.MaxValue)));
    }

    private static EwmaBandOptions ReadEwma(SettingsReader c)
    {
        var defaults = EwmaBandOptions.Default;
        return new EwmaBandOptions(
            alpha: c.Number("alpha", defaults.Alpha),
            warmupAlpha: c.Number("warm-up-alpha", defaults.WarmupAlpha),
            warmupReadings: c.Int("warm-up-readings", defaults.WarmupReadings, int.MinValue, int.MaxValue),
            window: c.Int("window", defaults.Window, int.MinValue, int.MaxValue),
            gamma: c.Number("sigma-alpha", defaults.Gamma),
            k: c.Number("band-width", defaults.K),
            alarmAfter: c.Has("alarm-after") ? c.Long("alarm-after", minimum: 0) : null,
            sigmaMode: c.Choice("sigma-mode", new Dictionary<string, SigmaMode> { ["population"] = SigmaMode.Population, ["notebook"] = SigmaMode.Notebook }, SigmaMode.Population),
            minBandWidth: c.Number("min-band", defaults.MinBandWidth),
            minRelativeBandWidth: c.Number("min-relative-band", defaults.MinRelativeBandWidth));
    }
}
