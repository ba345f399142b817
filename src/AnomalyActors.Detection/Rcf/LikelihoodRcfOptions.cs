namespace AnomalyActors.Detection.Rcf;

/// <summary>
/// Settings of <see cref="LikelihoodRcf"/>: Random Cut Forest scores normalised by Numenta's anomaly likelihood,
/// raised to 1 on a reading outside the widened range seen so far, raised to a learned cycle's residual score
/// when the cycle explains the stream, spaced out after a detection, and an alarm
/// when the result reaches <see cref="Threshold"/>. Immutable; validated here. <see cref="NabBest"/> is the
/// NAB harness's <c>best</c> configuration.
/// </summary>
public sealed record LikelihoodRcfOptions : DetectorOptions
{
    /// <summary>
    /// The corpus-wide threshold NAB's sweep chose for <see cref="NabBest"/> on the 51 shared NAB files
    /// (the same for all three profiles; an in-sample figure).
    /// </summary>
    public const double NabThreshold = 0.4998345213635387;

    /// <param name="rcf">The forest producing the raw score; one metric per reading (default: <see cref="RcfOptions.Default"/>).</param>
    /// <param name="likelihood">Normalisation of the raw score (default: learning 150, estimation 150, averaging window 40).</param>
    /// <param name="rangeTolerance">Widening of the seen range on each side, as a fraction of it (HTM's spatial anomaly, 0.05).</param>
    /// <param name="rangeWarmup">Readings that only build the range before a reading can be novel (150).</param>
    /// <param name="spacingTrigger">Score that counts as a detection for spacing (0.5).</param>
    /// <param name="spacingHold">Readings after a detection whose scores are damped (200; 0 disables spacing).</param>
    /// <param name="spacingFactor">Multiplier of damped scores, in [0, 1] (0.5).</param>
    /// <param name="threshold">Grade at or above which a reading is out of band, in (0, 1] (default <see cref="NabThreshold"/>).</param>
    /// <param name="seasonal">Whether a learned cycle's residual (<see cref="SeasonalResidual"/>) also scores each reading (default off: on NAB it
    /// caught the one daily series whose peak went missing, 77.0 in-sample against 76.1, but held out it scored 72.9 against 74.9).</param>
    /// <param name="seasonalOptions">The cycle and its settings when <paramref name="seasonal"/> (default <see cref="SeasonalResidualOptions.Daily"/>).</param>
    public LikelihoodRcfOptions(
        RcfOptions? rcf = null,
        AnomalyLikelihoodOptions? likelihood = null,
        double rangeTolerance = 0.05,
        int rangeWarmup = 150,
        double spacingTrigger = 0.5,
        int spacingHold = 200,
        double spacingFactor = 0.5,
        double threshold = NabThreshold,
        bool seasonal = false,
        SeasonalResidualOptions? seasonalOptions = null)
    {
        var forest = rcf ?? RcfOptions.Default;
        if (forest.Metrics != 1)
        {
            throw new ArgumentOutOfRangeException(nameof(rcf), forest.Metrics, "The likelihood RCF detector scores one metric per reading.");
        }

        if (!(rangeTolerance >= 0) || double.IsInfinity(rangeTolerance))
        {
            throw new ArgumentOutOfRangeException(nameof(rangeTolerance), rangeTolerance, "Must be non-negative and finite.");
        }

        if (rangeWarmup < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(rangeWarmup), rangeWarmup, "Must be non-negative.");
        }

        if (!double.IsFinite(spacingTrigger))
        {
            throw new ArgumentOutOfRangeException(nameof(spacingTrigger), spacingTrigger, "Must be finite.");
        }

        if (spacingHold < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(spacingHold), spacingHold, "Must be non-negative.");
        }

        if (!(spacingFactor >= 0 && spacingFactor <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(spacingFactor), spacingFactor, "Must be in [0, 1].");
        }

        // Grades live in [0, 1]: a threshold of 0 or below would alarm on every reading, above 1 never.
        if (!(threshold > 0 && threshold <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(threshold), threshold, "Must be in (0, 1].");
        }

        Rcf = forest;
        Likelihood = likelihood ?? AnomalyLikelihoodOptions.NabTuned;
        RangeTolerance = rangeTolerance;
        RangeWarmup = rangeWarmup;
        SpacingTrigger = spacingTrigger;
        SpacingHold = spacingHold;
        SpacingFactor = spacingFactor;
        Threshold = threshold;
        Seasonal = seasonal ? seasonalOptions ?? SeasonalResidualOptions.Daily : null;
    }

    /// <summary>The NAB harness's <c>best</c> configuration (76.1 / 73.5 / 78.9 on the 51 shared files in-sample, 74.9 / 72.0 / 77.8 with each category held out).</summary>
    public static LikelihoodRcfOptions NabBest { get; } = new();

    public static LikelihoodRcfOptions Default => NabBest;

    public RcfOptions Rcf { get; }

    public AnomalyLikelihoodOptions Likelihood { get; }

    public double RangeTolerance { get; }

    public int RangeWarmup { get; }

    public double SpacingTrigger { get; }

    public int SpacingHold { get; }

    public double SpacingFactor { get; }

    public double Threshold { get; }

    /// <summary>The learned cycle whose residual also scores each reading, or null when that part is off.</summary>
    public SeasonalResidualOptions? Seasonal { get; }

    public override string Kind => LikelihoodRcf.KindName;

    public override IDetector Create() => new LikelihoodRcf(this);
}
