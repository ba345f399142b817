namespace AnomalyActors.Detection.Rcf;

/// <summary>
/// Random Cut Forest as an <see cref="IDetector"/>: shingles readings (of one or several metrics) into points,
/// scores each point against the forest before adding it, and thresholds the score adaptively. The value
/// band fields of <see cref="DetectorScore"/> stay NaN because RCF judges points, not values; the raw score,
/// its threshold and the per-dimension attribution of alarms are exposed here instead.
/// </summary>
public sealed class RcfDetector : IDetector
{
    public const string KindName = "rcf";

    private readonly RcfOptions _options;
    private const byte StateVersion = 1;
    private RandomCutForest _forest;
    private RcfThresholder _thresholder;
    private readonly double[] _shingle; // ring of the last ShingleSize readings, Metrics values each
    private readonly double[] _point;
    private readonly double[] _high;
    private readonly double[] _low;
    private readonly double[] _single = new double[1];
    private long _count;

    public RcfDetector(RcfOptions options)
    {
        _options = options ?? throw new ArgumentNullException(nameof(options));
        _forest = new RandomCutForest(options.Dimensions, options.Trees, options.SampleSize, options.TimeDecay, options.Seed);
        _thresholder = new RcfThresholder(options.Threshold);
        _shingle = new double[options.Dimensions];
        _point = new double[options.Dimensions];
        _high = new double[options.Dimensions];
        _low = new double[options.Dimensions];
    }

    public string Kind => KindName;
    public long Count => _count;
    public RcfOptions Options => _options;

    /// <summary>Raw forest score of the latest reading (0 while the forest is not ready).</summary>
    public double LastScore { get; private set; }

    /// <summary>The threshold the latest score was compared with.</summary>
    public double LastThreshold { get; private set; } = double.PositiveInfinity;

    /// <summary>Latest score in running deviations above the running mean of earlier scores.</summary>
    public double LastStandardScore { get; private set; }

    /// <summary>Whether the forest produced a real score for the latest reading.</summary>
    public bool Ready { get; private set; }

    /// <summary>
    /// Attribution of the latest out-of-band reading, index <c>shinglePosition * Metrics + metric</c>
    /// (oldest position first): how much it lay above (high) or below (low) what the forest had seen.
    /// </summary>
    public ReadOnlySpan<double> AttributionHigh => _high;

    public ReadOnlySpan<double> AttributionLow => _low;

    public DetectorScore Update(long timestampMs, double value)
    {
        Guard.Finite(value, nameof(value));
        _single[0] = value;
        return Update(timestampMs, _single);
    }

    /// <summary>One reading of every metric of the stream (in a fixed order).</summary>
    public DetectorScore Update(long timestampMs, ReadOnlySpan<double> values)
    {
        if (values.Length != _options.Metrics)
        {
            throw new ArgumentException($"Expected {_options.Metrics} values per reading, got {values.Length}.", nameof(values));
        }

        foreach (var v in values)
        {
            Guard.Finite(v, nameof(values));
        }

        var metrics = _options.Metrics;
        var slot = (int)(_count % _options.ShingleSize);
        values.CopyTo(_shingle.AsSpan(slot * metrics, metrics));
        _count++;
        Ready = false;
        LastScore = 0;
        LastStandardScore = 0;
        if (_count < _options.ShingleSize)
        {
            return DetectorScore.None;
        }

        // Unroll the ring oldest-first so every shingle position is a fixed dimension of the point.
        var start = (int)(_count % _options.ShingleSize);
        for (var i = 0; i < _options.ShingleSize; i++)
        {
            var from = ((start + i) % _options.ShingleSize) * metrics;
            _shingle.AsSpan(from, metrics).CopyTo(_point.AsSpan(i * metrics, metrics));
        }

        var result = DetectorScore.None;
        if (_forest.Updates >= _options.OutputAfter)
        {
            var score = _forest.Score(_point);
            Ready = true;
            LastScore = score;
            LastThreshold = _thresholder.Threshold;
            LastStandardScore = _thresholder.StandardScore(score);
            var (outOfBand, grade) = _thresholder.Observe(score);
            if (outOfBand)
            {
                _forest.Attribution(_point, _high, _low);
            }

            result = new DetectorScore(double.NaN, double.NaN, double.NaN, double.NaN, outOfBand, grade);
        }

        _forest.Update(_point);
        return result;
    }

    /// <summary>Attribution of an arbitrary point against the current forest (allocation-free; spans of Dimensions).</summary>
    public void Explain(ReadOnlySpan<double> point, Span<double> high, Span<double> low) => _forest.Attribution(point, high, low);

    public void WriteState(BinaryWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        // Layout v1: version byte, dimensions, trees, sample size, count, shingle ring, forest, thresholder.
        writer.Write(StateVersion);
        writer.Write(_options.Dimensions);
        writer.Write(_options.Trees);
        writer.Write(_options.SampleSize);
        writer.Write(_count);
        foreach (var v in _shingle)
        {
            writer.Write(v);
        }

        _forest.WriteState(writer);
        _thresholder.WriteState(writer);
    }

    public void ReadState(BinaryReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        StateFormat.ReadVersion(reader, StateVersion, KindName);
        StateFormat.Expect(reader.ReadInt32(), _options.Dimensions, "dimensions", KindName);
        StateFormat.Expect(reader.ReadInt32(), _options.Trees, "trees", KindName);
        StateFormat.Expect(reader.ReadInt32(), _options.SampleSize, "sample size", KindName);
        var count = reader.ReadInt64();
        if (count < 0)
        {
            throw new InvalidDataException($"The {KindName} detector state has a negative count {count}.");
        }

        // Read into fresh parts so a truncated or corrupt stream leaves this instance as it was.
        var shingle = new double[_shingle.Length];
        for (var i = 0; i < shingle.Length; i++)
        {
            shingle[i] = reader.ReadDouble();
        }

        var forest = new RandomCutForest(_options.Dimensions, _options.Trees, _options.SampleSize, _options.TimeDecay, _options.Seed);
        forest.ReadState(reader);
        var thresholder = new RcfThresholder(_options.Threshold);
        thresholder.ReadState(reader);
        _count = count;
        shingle.CopyTo(_shingle, 0);
        _forest = forest;
        _thresholder = thresholder;
    }
}
