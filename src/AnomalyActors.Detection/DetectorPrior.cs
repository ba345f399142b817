namespace AnomalyActors.Detection;

/// <summary>
/// What a fleet-wide model tells a young stream's detector before it has learned enough of its own:
/// how wide the band of a mature stream of its type is, and after how many readings alarms may be
/// armed with that band. A detector uses it only while its own warm-up lasts.
/// </summary>
/// <param name="HalfWidth">Band half-width of mature streams of the type (in the stream's units); positive and finite.</param>
/// <param name="ArmAfter">Alarms are armed once more than this many readings were seen (at least 1).</param>
public readonly record struct DetectorPrior(double HalfWidth, long ArmAfter)
{
    public static DetectorPrior None => default;

    public bool IsNone => !(HalfWidth > 0);

    /// <summary>Null when the prior is usable, otherwise why not.</summary>
    public string? Problem() =>
        !double.IsFinite(HalfWidth) || HalfWidth <= 0 ? $"half-width {HalfWidth} is not a positive number"
        : ArmAfter < 1 ? $"arm-after {ArmAfter} is below 1"
        : null;
}

/// <summary>A detector that can start from a <see cref="DetectorPrior"/> (its state then includes the prior).</summary>
public interface IWarmStartable
{
    /// <summary>Takes the prior for the rest of its warm-up (<see cref="DetectorPrior.None"/> drops it).</summary>
    void WarmStart(DetectorPrior prior);
}
