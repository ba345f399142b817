namespace AnomalyActors.Detection;

/// <summary>
/// Static limits: an alarm when a reading is strictly below <see cref="ThresholdOptions.Min"/> or
/// strictly above <see cref="ThresholdOptions.Max"/>, from the first reading on.
/// </summary>
/// <remarks>
/// Grade = d/(1+d) with d = (distance outside the limits) / Scale; Scale defaults to max - min, so a
/// reading one whole range beyond a limit grades 0.5. Prediction and Sigma are NaN (no model); Low
/// and High are the limits, NaN for an open side.
/// </remarks>
public sealed class ThresholdDetector : IDetector
{
    public const string KindName = "thr";
    private const byte StateVersion = 1;

    private readonly ThresholdOptions _options;
    private readonly double _low;
    private readonly double _high;
    private long _count;

    public ThresholdDetector(ThresholdOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _low = double.IsInfinity(options.Min) ? double.NaN : options.Min;
        _high = double.IsInfinity(options.Max) ? double.NaN : options.Max;
    }

    public ThresholdOptions Options => _options;

    public string Kind => KindName;

    public long Count => _count;

    public DetectorScore Update(long timestampMs, double value)
    {
        Guard.Finite(value, nameof(value));
        _count++;

        var distance = value < _options.Min ? _options.Min - value
            : value > _options.Max ? value - _options.Max
            : 0;
        var outOfBand = distance > 0;
        var grade = outOfBand ? Grading.FromDistance(distance, _options.Scale) : 0;
        return new DetectorScore(double.NaN, _low, _high, double.NaN, outOfBand, grade);
    }

    // Layout v1: version byte, count (int64). The limits are options, not state.
    public void WriteState(BinaryWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.Write(StateVersion);
        writer.Write(_count);
    }

    public void ReadState(BinaryReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        StateFormat.ReadVersion(reader, StateVersion, KindName);
        var count = reader.ReadInt64();
        if (count < 0)
        {
            throw new InvalidDataException($"The {KindName} detector state has a negative count {count}.");
        }

        _count = count;
    }
}
