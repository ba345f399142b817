namespace AnomalyActors.Detection.Rcf;

/// <summary>Parameters of <see cref="RcfThresholder"/>.</summary>
public sealed record RcfThresholdOptions
{
    public RcfThresholdOptions(int horizon = 512, double zFactor = 3.0, double minimumScore = 1.0, int warmup = 32)
    {
        if (horizon < 2)
        {
            throw new ArgumentOutOfRangeException(nameof(horizon), horizon, "Horizon must be at least 2 scores.");
        }

        if (!double.IsFinite(zFactor) || zFactor <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(zFactor), zFactor, "Z factor must be positive.");
        }

        if (!double.IsFinite(minimumScore) || minimumScore < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(minimumScore), minimumScore, "Minimum score must be non-negative.");
        }

        if (warmup < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(warmup), warmup, "Warm-up cannot be negative.");
        }

        Horizon = horizon;
        ZFactor = zFactor;
        MinimumScore = minimumScore;
        Warmup = warmup;
    }

    /// <summary>Scores over which the running mean and deviation are exponentially weighted.</summary>
    public int Horizon { get; }

    /// <summary>Deviations above the running mean that make a score out of band.</summary>
    public double ZFactor { get; }

    /// <summary>
    /// Absolute floor: RCF scores near 1 are ordinary whatever the recent spread, so a very quiet stream
    /// does not turn noise into alarms.
    /// </summary>
    public double MinimumScore { get; }

    /// <summary>Scores observed before any out-of-band decision.</summary>
    public int Warmup { get; }
}

/// <summary>
/// Turns RCF scores into out-of-band decisions and a [0, 1] grade from the running distribution of recent
/// scores (exponentially weighted mean and deviation), since raw score levels differ between streams.
/// </summary>
public sealed class RcfThresholder
{
    private readonly RcfThresholdOptions _options;
    private readonly double _alpha;
    private long _seen;
    private double _mean;
    private double _variance;

    public RcfThresholder(RcfThresholdOptions options)
    {
        _options = options ?? throw new ArgumentNullException(nameof(options));
        _alpha = 1.0 / options.Horizon;
    }

    public double Mean => _mean;
    public double Deviation => Math.Sqrt(_variance);

    /// <summary>The score above which a reading is out of band (infinite during warm-up).</summary>
    public double Threshold =>
        _seen < _options.Warmup ? double.PositiveInfinity : Math.Max(_options.MinimumScore, _mean + (_options.ZFactor * Deviation));

    /// <summary>How many running deviations the score lies above the running mean (0 before any history).</summary>
    public double StandardScore(double score)
    {
        var sd = Deviation;
        return _seen < 2 || sd <= 0 ? 0 : (score - _mean) / sd;
    }

    /// <summary>Decides on the score against the distribution so far, then folds the score in.</summary>
    public (bool OutOfBand, double Grade) Observe(double score)
    {
        var threshold = Threshold;
        var outOfBand = score > threshold;
        var grade = 0.0;
        if (outOfBand)
        {
            var scale = Math.Max(_options.ZFactor * Deviation, 1e-12);
            grade = (score - threshold) / (score - threshold + scale);
        }

        // Exponentially weighted mean and variance; the first score seeds the mean.
        if (_seen == 0)
        {
            _mean = score;
            _variance = 0;
        }
        else
        {
            var alpha = Math.Max(_alpha, 1.0 / (_seen + 1));
            var delta = score - _mean;
            _mean += alpha * delta;
            _variance = (1 - alpha) * (_variance + (alpha * delta * delta));
        }

        _seen++;
        return (outOfBand, grade);
    }

    public void WriteState(BinaryWriter writer)
    {
        writer.Write(_seen);
        writer.Write(_mean);
        writer.Write(_variance);
    }

    public void ReadState(BinaryReader reader)
    {
        _seen = reader.ReadInt64();
        _mean = reader.ReadDouble();
        _variance = reader.ReadDouble();
    }
}
