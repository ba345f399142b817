namespace AnomalyActors.Detection;

/// <summary>Settings of <see cref="ThresholdDetector"/>. Immutable; every value is validated here.</summary>
public sealed record ThresholdOptions : DetectorOptions
{
    /// <param name="min">Lowest normal value; -infinity for no lower limit.</param>
    /// <param name="max">Highest normal value; +infinity for no upper limit. At least <paramref name="min"/>.</param>
    /// <param name="scale">Distance outside that grades 0.5; null means max - min when both are finite and
    /// distinct, otherwise 1. Positive and finite.</param>
    public ThresholdOptions(double min = double.NegativeInfinity, double max = double.PositiveInfinity, double? scale = null)
    {
        if (double.IsNaN(min) || double.IsPositiveInfinity(min))
        {
            throw new ArgumentOutOfRangeException(nameof(min), min, "Must be a number below +infinity.");
        }

        if (double.IsNaN(max) || double.IsNegativeInfinity(max) || max < min)
        {
            throw new ArgumentOutOfRangeException(nameof(max), max, "Must be a number at least min and above -infinity.");
        }

        var range = max - min;
        var resolved = scale ?? (double.IsFinite(range) && range > 0 ? range : 1.0);
        if (!(resolved > 0) || double.IsInfinity(resolved))
        {
            throw new ArgumentOutOfRangeException(nameof(scale), scale, "Must be positive and finite.");
        }

        Min = min;
        Max = max;
        Scale = resolved;
    }

    public override string Kind => ThresholdDetector.KindName;

    public double Min { get; }

    public double Max { get; }

    public double Scale { get; }

    public override IDetector Create() => new ThresholdDetector(this);
}
