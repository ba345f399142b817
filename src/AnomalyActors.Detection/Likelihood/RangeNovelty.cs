namespace AnomalyActors.Detection;

/// <summary>
/// Numenta's "spatial anomaly" check from NAB's HTM detector: a reading is novel when it lies outside the
/// range of every earlier reading widened by <c>Tolerance</c> times that range on both sides. Complements
/// score-based detectors, which learn a new level quickly and can then miss the first excursion past it.
/// </summary>
/// <remarks>
/// Per reading: novel = count &gt;= warm-up and max &gt; min and (value &gt; max + tol*(max-min) or
/// value &lt; min - tol*(max-min)), judged against the earlier readings only; then min and max take the reading.
/// No allocation; the state round-trips exactly.
/// </remarks>
public sealed class RangeNovelty
{
    private const byte StateVersion = 1;
    private const string Name = "range novelty";

    private long _count;
    private double _min;
    private double _max;

    /// <param name="tolerance">Widening of the seen range on each side, as a fraction of it; non-negative (NAB: 0.05).</param>
    /// <param name="warmup">Readings that only build the range before any reading can be novel; non-negative.</param>
    public RangeNovelty(double tolerance = 0.05, int warmup = 0)
    {
        if (!(tolerance >= 0) || double.IsInfinity(tolerance))
        {
            throw new ArgumentOutOfRangeException(nameof(tolerance), tolerance, "Must be non-negative and finite.");
        }

        if (warmup < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(warmup), warmup, "Must be non-negative.");
        }

        Tolerance = tolerance;
        Warmup = warmup;
    }

    public double Tolerance { get; }

    public int Warmup { get; }

    public long Count => _count;

    /// <summary>Smallest reading so far (NaN before the first).</summary>
    public double Min => _count == 0 ? double.NaN : _min;

    /// <summary>Largest reading so far (NaN before the first).</summary>
    public double Max => _count == 0 ? double.NaN : _max;

    /// <summary>Judges the reading against the earlier ones, then widens the range with it.</summary>
    public bool Update(double value)
    {
        Guard.Finite(value, nameof(value));
        var novel = false;
        if (_count == 0)
        {
            _min = value;
            _max = value;
        }
        else
        {
            var range = _max - _min;
            if (_count >= Warmup && range > 0)
            {
                var margin = range * Tolerance;
                novel = value > _max + margin || value < _min - margin;
            }

            _min = Math.Min(_min, value);
            _max = Math.Max(_max, value);
        }

        _count++;
        return novel;
    }

    // Layout v1: version byte, count (int64), min, max.
    public void WriteState(BinaryWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.Write(StateVersion);
        writer.Write(_count);
        writer.Write(_min);
        writer.Write(_max);
    }

    public void ReadState(BinaryReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        StateFormat.ReadVersion(reader, StateVersion, Name);
        var count = reader.ReadInt64();
        if (count < 0)
        {
            throw new InvalidDataException($"The {Name} state has a negative count {count}.");
        }

        var min = reader.ReadDouble();
        var max = reader.ReadDouble();
        _count = count;
        _min = min;
        _max = max;
    }
}
