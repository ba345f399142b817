using AnomalyActors.Detection.Rcf;
using LikelihoodRcfDetector = AnomalyActors.Detection.Rcf.LikelihoodRcf;

namespace AnomalyActors.Detection;

/// <summary>
/// A stream's configured detector: the kind plus its validated options, enough to build a fresh
/// instance from settings (and to rebuild one before <see cref="IDetector.ReadState"/>).
/// </summary>
public sealed record DetectorSpec
{
    public DetectorSpec(DetectorOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        Options = options;
    }

    /// <summary>Every kind this build can create.</summary>
    public static IReadOnlyList<string> Kinds { get; } = [EwmaBand.KindName, WindowZScore.KindName, ThresholdDetector.KindName, RcfDetector.KindName, LikelihoodRcfDetector.KindName];

    public static DetectorSpec Default { get; } = new(EwmaBandOptions.Default);

    public string Kind => Options.Kind;

    public DetectorOptions Options { get; }

    public static DetectorSpec Ewma(EwmaBandOptions? options = null) => new(options ?? EwmaBandOptions.Default);

    public static DetectorSpec WindowZ(WindowZScoreOptions? options = null) => new(options ?? WindowZScoreOptions.Default);

    public static DetectorSpec Threshold(ThresholdOptions options) => new(options);

    public static DetectorSpec Rcf(RcfOptions? options = null) => new(options ?? RcfOptions.Default);

    /// <summary>RCF with likelihood, range novelty and spacing; defaults to the NAB <c>best</c> configuration.</summary>
    public static DetectorSpec LikelihoodRcf(LikelihoodRcfOptions? options = null) => new(options ?? LikelihoodRcfOptions.NabBest);

    /// <summary>The spec of a kind with that kind's default options (a threshold has no sensible default limits).</summary>
    public static DetectorSpec ForKind(string kind) => kind switch
    {
        EwmaBand.KindName => Ewma(),
        WindowZScore.KindName => WindowZ(),
        RcfDetector.KindName => Rcf(),
        LikelihoodRcfDetector.KindName => LikelihoodRcf(),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind,
            $"No default options for kind '{kind}'; known kinds: {string.Join(", ", Kinds)} (thr needs explicit limits)."),
    };

    public IDetector Create() => Options.Create();
}
