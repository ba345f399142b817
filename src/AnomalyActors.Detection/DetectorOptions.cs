namespace AnomalyActors.Detection;

/// <summary>Immutable, validated settings of one detector kind; <see cref="Create"/> builds a fresh instance.</summary>
public abstract record DetectorOptions
{
    /// <summary>The <see cref="IDetector.Kind"/> of the detectors these options build.</summary>
    public abstract string Kind { get; }

    public abstract IDetector Create();
}
