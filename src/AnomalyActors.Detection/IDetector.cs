namespace AnomalyActors.Detection;

/// <summary>
/// A streaming detector over one value series. Implementations are mutable and single-threaded:
/// <see cref="Update"/> must not allocate in steady state, and <see cref="WriteState"/> followed by
/// <see cref="ReadState"/> on an instance built from the same options must reproduce every future
/// output bit for bit.
/// </summary>
public interface IDetector
{
    /// <summary>Frozen short name of the algorithm (persisted; never rename).</summary>
    string Kind { get; }

    /// <summary>Readings consumed so far.</summary>
    long Count { get; }

    /// <summary>
    /// Scores <paramref name="value"/> observed at <paramref name="timestampMs"/> (Unix milliseconds)
    /// and then folds it into the state. Throws <see cref="ArgumentOutOfRangeException"/> for NaN or
    /// infinities without touching the state: callers validate earlier, this is the last guard.
    /// </summary>
    DetectorScore Update(long timestampMs, double value);

    /// <summary>Writes the complete mutable state (not the options) in a stable binary layout.</summary>
    void WriteState(BinaryWriter writer);

    /// <summary>Replaces the mutable state with one written by <see cref="WriteState"/>.</summary>
    void ReadState(BinaryReader reader);
}

/// <summary>The outcome of scoring one reading.</summary>
/// <param name="Prediction">What the detector expected (NaN when it has no opinion yet).</param>
/// <param name="Low">Lower band edge (NaN when there is none).</param>
/// <param name="High">Upper band edge (NaN when there is none).</param>
/// <param name="Sigma">The spread estimate behind the band (NaN when not applicable).</param>
/// <param name="OutOfBand">True when the reading is an alarm: outside the band and past warm-up.</param>
/// <param name="Grade">Severity in [0, 1]: 0 inside the band, growing with the distance outside it.</param>
public readonly record struct DetectorScore(
    double Prediction,
    double Low,
    double High,
    double Sigma,
    bool OutOfBand,
    double Grade)
{
    public static DetectorScore None => new(double.NaN, double.NaN, double.NaN, double.NaN, false, 0);
}
