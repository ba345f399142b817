namespace AnomalyActors.Detection;

/// <summary>
/// Settings of <see cref="AnomalyLikelihood"/> (Numenta's anomaly likelihood). Immutable; validated here.
/// </summary>
public sealed record AnomalyLikelihoodOptions
{
    /// <param name="learningPeriod">Raw scores at the very start that never enter the distribution (the raw detector is still learning).</param>
    /// <param name="estimationSamples">Scores after the learning period before the first estimate; until then the likelihood is 0.5.</param>
    /// <param name="historicWindow">Averaged scores the distribution is estimated from (the most recent ones).</param>
    /// <param name="reestimationPeriod">Readings between re-estimates of the distribution.</param>
    /// <param name="averagingWindow">Raw scores in the short-term moving average that is judged.</param>
    /// <param name="minMean">Floor of the estimated mean.</param>
    /// <param name="minVariance">Floor of the estimated variance (so a blip on a silent stream is not infinitely unlikely).</param>
    /// <param name="twoSided">Numenta's choice: an average far BELOW the mean is as unlikely as one far above. False judges the upper tail only.</param>
    /// <param name="filterRepeats">Numenta's filter: a red-zone tail right after another red-zone tail is reported as yellow, so a burst fires once.</param>
    public AnomalyLikelihoodOptions(
        int learningPeriod = 288,
        int estimationSamples = 100,
        int historicWindow = 8640,
        int reestimationPeriod = 100,
        int averagingWindow = 10,
        double minMean = 0.03,
        double minVariance = 0.0003,
        bool twoSided = true,
        bool filterRepeats = true)
    {
        if (learningPeriod < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(learningPeriod), learningPeriod, "Must be non-negative.");
        }

        if (estimationSamples < 2)
        {
            throw new ArgumentOutOfRangeException(nameof(estimationSamples), estimationSamples, "Must be at least 2.");
        }

        if (historicWindow < 2 || historicWindow > 1_000_000)
        {
            throw new ArgumentOutOfRangeException(nameof(historicWindow), historicWindow, "Must be in [2, 1000000].");
        }

        if (reestimationPeriod < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(reestimationPeriod), reestimationPeriod, "Must be at least 1.");
        }

        if (averagingWindow < 1 || averagingWindow > 100_000)
        {
            throw new ArgumentOutOfRangeException(nameof(averagingWindow), averagingWindow, "Must be in [1, 100000].");
        }

        if (!double.IsFinite(minMean))
        {
            throw new ArgumentOutOfRangeException(nameof(minMean), minMean, "Must be finite.");
        }

        if (!(minVariance > 0) || double.IsInfinity(minVariance))
        {
            throw new ArgumentOutOfRangeException(nameof(minVariance), minVariance, "Must be positive and finite.");
        }

        LearningPeriod = learningPeriod;
        EstimationSamples = estimationSamples;
        HistoricWindow = historicWindow;
        ReestimationPeriod = reestimationPeriod;
        AveragingWindow = averagingWindow;
        MinMean = minMean;
        MinVariance = minVariance;
        TwoSided = twoSided;
        FilterRepeats = filterRepeats;
    }

    /// <summary>Numenta's defaults (nupic anomaly_likelihood.py), for raw scores in [0, 1].</summary>
    public static AnomalyLikelihoodOptions Default { get; } = new();

    /// <summary>
    /// A shorter learning and estimation period and a longer average than Numenta's, as tuned on NAB
    /// for the forest's scores and for seasonal residuals.
    /// </summary>
    public static AnomalyLikelihoodOptions NabTuned { get; } = new(learningPeriod: 150, estimationSamples: 150, averagingWindow: 40);

    public int LearningPeriod { get; }

    public int EstimationSamples { get; }

    public int HistoricWindow { get; }

    public int ReestimationPeriod { get; }

    public int AveragingWindow { get; }

    public double MinMean { get; }

    public double MinVariance { get; }

    public bool TwoSided { get; }

    public bool FilterRepeats { get; }
}
