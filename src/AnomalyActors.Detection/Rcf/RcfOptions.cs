namespace AnomalyActors.Detection.Rcf;

/// <summary>Parameters of a streaming Random Cut Forest; validated on construction.</summary>
public sealed record RcfOptions : DetectorOptions
{
    public RcfOptions(
        int trees = 50,
        int sampleSize = 256,
        double? timeDecay = null,
        int shingleSize = 1,
        int metrics = 1,
        int? outputAfter = null,
        ulong seed = 42,
        RcfThresholdOptions? threshold = null)
    {
        if (trees < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(trees), trees, "A forest needs at least one tree.");
        }

        if (sampleSize < 4)
        {
            throw new ArgumentOutOfRangeException(nameof(sampleSize), sampleSize, "Sample size must be at least 4.");
        }

        if (shingleSize < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(shingleSize), shingleSize, "Shingle size must be at least 1.");
        }

        if (metrics < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(metrics), metrics, "At least one metric per reading.");
        }

        var decay = timeDecay ?? 1.0 / (10.0 * sampleSize);
        if (!double.IsFinite(decay) || decay < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(timeDecay), timeDecay, "Time decay must be finite and non-negative.");
        }

        var after = outputAfter ?? sampleSize / 4;
        if (after < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(outputAfter), outputAfter, "Output-after cannot be negative.");
        }

        Trees = trees;
        SampleSize = sampleSize;
        TimeDecay = decay;
        ShingleSize = shingleSize;
        Metrics = metrics;
        OutputAfter = after;
        Seed = seed;
        Threshold = threshold ?? new RcfThresholdOptions();
    }

    public int Trees { get; }
    public int SampleSize { get; }

    /// <summary>Exponential decay per point of the reservoir weights (default 1/(10 * sample size)).</summary>
    public double TimeDecay { get; }

    /// <summary>Readings folded into one point: the last <c>ShingleSize</c> readings of every metric.</summary>
    public int ShingleSize { get; }

    /// <summary>Metrics per reading (e.g. FREQ and RPM of one fan): the point has Metrics * ShingleSize dimensions.</summary>
    public int Metrics { get; }

    /// <summary>Points the forest must have absorbed before it emits scores (default sample size / 4).</summary>
    public int OutputAfter { get; }

    public ulong Seed { get; }
    public RcfThresholdOptions Threshold { get; }

    public int Dimensions => Metrics * ShingleSize;

    public static RcfOptions Default { get; } = new();

    public override string Kind => RcfDetector.KindName;

    public override IDetector Create() => new RcfDetector(this);
}
