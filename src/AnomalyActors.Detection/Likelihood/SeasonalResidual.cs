namespace AnomalyActors.Detection;

/// <summary>
/// Learns a stream's cycle online (a day by default: traffic, load, people's habits) and scores how far a
/// reading is from what its slot of the cycle usually holds. Each slot (the timestamp modulo the period,
/// cut into slots) keeps an exponentially weighted typical value. A reading's residual is its distance
/// from that value in units of the residuals' own deviation, squashed into [0, 1] and normalised by
/// Numenta's <see cref="AnomalyLikelihood"/>. The score is 0 unless the profile explains the stream
/// (residual variance below <see cref="SeasonalResidualOptions.Strength"/> of the value variance, both
/// moving estimates), so a stream without a cycle is left entirely to the other parts of its detector.
/// </summary>
/// <remarks>
/// What this catches that a forest over single values cannot: a value that is normal for the stream but
/// not for the time of day (a peak that did not come, a night that looks like noon). No allocation per
/// reading; the state round-trips exactly.
/// </remarks>
public sealed class SeasonalResidual
{
    private const byte StateVersion = 1;
    private const string Name = "seasonal residual";

    // A deviation of z residual deviations maps to z / (z + Squash): 3 deviations score one half.
    private const double Squash = 3;

    private readonly SeasonalResidualOptions _options;
    private readonly double[] _typical;
    private readonly int[] _cycles;
    private readonly long[] _lastCycle;
    private AnomalyLikelihood _likelihood;
    private long _count;
    private double _mean;
    private double _valueVariance;
    private double _residualVariance;
    private long _residuals;

    public SeasonalResidual(SeasonalResidualOptions options)
    {
        _options = options ?? throw new ArgumentNullException(nameof(options));
        _typical = new double[options.Slots];
        _cycles = new int[options.Slots];
        _lastCycle = new long[options.Slots];
        _likelihood = new AnomalyLikelihood(options.Likelihood);
    }

    public SeasonalResidualOptions Options => _options;

    public long Count => _count;

    /// <summary>Whether the profile explained the stream at the latest reading (its residuals were scored).</summary>
    public bool Strong { get; private set; }

    /// <summary>The latest score in [0, 1] (0 when not <see cref="Strong"/> or the slot is still young).</summary>
    public double LastScore { get; private set; }

    /// <summary>Residual variance over value variance, the measure of how well the profile explains the stream (NaN before both exist).</summary>
    public double UnexplainedFraction => _valueVariance > 0 && _residuals > 0 ? _residualVariance / _valueVariance : double.NaN;

    public double Update(long timestampMs, double value)
    {
        Guard.Finite(value, nameof(value));
        var cycle = FloorDiv(timestampMs, _options.PeriodMs);
        var slot = (int)((timestampMs - (cycle * _options.PeriodMs)) / _options.SlotMs);
        _count++;
        var weight = 1.0 / Math.Min(_count, _options.VarianceWindow);
        var deviation = value - _mean;
        _mean += weight * deviation;
        _valueVariance += weight * ((deviation * deviation) - _valueVariance);

        var score = 0.0;
        if (_cycles[slot] >= _options.MinCycles)
        {
            var residual = value - _typical[slot];
            _residuals++;
            var residualWeight = 1.0 / Math.Min(_residuals, _options.VarianceWindow);
            _residualVariance += residualWeight * ((residual * residual) - _residualVariance);
            var z = Math.Abs(residual) / (Math.Sqrt(_residualVariance) + 1e-12);
            var likelihood = _likelihood.Update(z / (z + Squash));
            Strong = _likelihood.Ready && _valueVariance > 0 && _residualVariance < _options.Strength * _valueVariance;
            score = Strong ? likelihood : 0;
        }

        _typical[slot] = _cycles[slot] == 0 ? value : _typical[slot] + (_options.ProfileAlpha * (value - _typical[slot]));
        if (_cycles[slot] == 0 || cycle != _lastCycle[slot])
        {
            _cycles[slot] = _cycles[slot] == int.MaxValue ? int.MaxValue : _cycles[slot] + 1;
            _lastCycle[slot] = cycle;
        }

        LastScore = score;
        return score;
    }

    private static long FloorDiv(long a, long b) => a >= 0 ? a / b : ((a + 1) / b) - 1;

    // Layout v1: version byte, period and slot (int64 ms), count, mean, value variance, residual variance,
    // residuals, strong, last score, then per slot its typical value, cycles seen and last cycle, then the likelihood.
    public void WriteState(BinaryWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.Write(StateVersion);
        writer.Write(_options.PeriodMs);
        writer.Write(_options.SlotMs);
        writer.Write(_count);
        writer.Write(_mean);
        writer.Write(_valueVariance);
        writer.Write(_residualVariance);
        writer.Write(_residuals);
        writer.Write(Strong);
        writer.Write(LastScore);
        for (var i = 0; i < _typical.Length; i++)
        {
            writer.Write(_typical[i]);
            writer.Write(_cycles[i]);
            writer.Write(_lastCycle[i]);
        }

        _likelihood.WriteState(writer);
    }

    public void ReadState(BinaryReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        StateFormat.ReadVersion(reader, StateVersion, Name);
        StateFormat.Expect(reader.ReadInt64(), _options.PeriodMs, "period (ms)", Name);
        StateFormat.Expect(reader.ReadInt64(), _options.SlotMs, "slot (ms)", Name);
        var count = reader.ReadInt64();
        var mean = reader.ReadDouble();
        var valueVariance = reader.ReadDouble();
        var residualVariance = reader.ReadDouble();
        var residuals = reader.ReadInt64();
        var strong = reader.ReadBoolean();
        var lastScore = reader.ReadDouble();
        if (count < 0 || residuals < 0 || residuals > count)
        {
            throw new InvalidDataException($"The {Name} state has inconsistent counts: {count} readings, {residuals} residuals.");
        }

        // Scratch copies so a truncated stream leaves this instance as it was.
        var typical = new double[_typical.Length];
        var cycles = new int[_cycles.Length];
        var lastCycle = new long[_lastCycle.Length];
        for (var i = 0; i < typical.Length; i++)
        {
            typical[i] = reader.ReadDouble();
            cycles[i] = reader.ReadInt32();
            lastCycle[i] = reader.ReadInt64();
        }

        var likelihood = new AnomalyLikelihood(_options.Likelihood);
        likelihood.ReadState(reader);

        _count = count;
        _mean = mean;
        _valueVariance = valueVariance;
        _residualVariance = residualVariance;
        _residuals = residuals;
        Strong = strong;
        LastScore = lastScore;
        typical.CopyTo(_typical, 0);
        cycles.CopyTo(_cycles, 0);
        lastCycle.CopyTo(_lastCycle, 0);
        _likelihood = likelihood;
    }
}
