namespace AnomalyActors.Detection;

/// <summary>
/// Port of the Array of Things notebook's per-stream recorder: an EWMA prediction with a band of
/// k smoothed sigmas around it, sigma taken over a ring buffer of the last M readings.
/// </summary>
/// <remarks>
/// Per reading n (0-based), in this order, which is the order the reference results depend on:
/// prediction = s_(n-1) (x_0 for n = 0); sigma_raw from the buffer BEFORE x_n enters it, with the mean and
/// the sum of squares in numpy's pairwise order; sigma = g*sigma_raw + (1-g)*sigma; band =
/// prediction -/+ max(k*sigma, floors); alarm when n > AlarmAfter and x_n is strictly outside; then
/// s_n = a*x_n + (1-a)*s_(n-1) (literally that form: s + a*(x - s) rounds differently and breaks
/// the flat-line reference) and slot n mod M takes x_n.
/// Grade: d = (distance outside the band) / (band half-width), grade = d/(1+d), and 0 while alarms
/// are not yet armed so warm-up noise never looks severe.
/// With a <see cref="DetectorPrior"/> (a fleet model's knowledge of the stream's type), and only
/// until the stream's own alarms are armed: the band is at least the prior's half-width, and alarms
/// are armed after the prior's count of readings. Past its own warm-up the stream is on its own.
/// </remarks>
public sealed class EwmaBand : IDetector, IWarmStartable
{
    public const string KindName = "ewma";
    private const byte StateVersion = 1;
    private const byte StateVersionWithPrior = 2;

    private readonly EwmaBandOptions _options;
    private readonly double[] _buffer;
    private readonly double _oneMinusAlpha;
    private readonly double _oneMinusWarmupAlpha;
    private readonly double _oneMinusGamma;

    private long _count;
    private double _smoothed;
    private double _sigma;
    private DetectorPrior _prior;

    public EwmaBand(EwmaBandOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _buffer = new double[options.Window];
        _oneMinusAlpha = 1 - options.Alpha;
        _oneMinusWarmupAlpha = 1 - options.WarmupAlpha;
        _oneMinusGamma = 1 - options.Gamma;
    }

    public EwmaBandOptions Options => _options;

    public string Kind => KindName;

    public long Count => _count;

    public DetectorPrior Prior => _prior;

    public void WarmStart(DetectorPrior prior)
    {
        if (!prior.IsNone && prior.Problem() is { } problem)
        {
            throw new ArgumentOutOfRangeException(nameof(prior), prior, problem);
        }

        _prior = prior;
    }

    public DetectorScore Update(long timestampMs, double value)
    {
        Guard.Finite(value, nameof(value));

        double prediction;
        if (_count == 0)
        {
            _smoothed = value;
            Array.Fill(_buffer, value);
            prediction = value;
        }
        else
        {
            prediction = _smoothed;
        }

        var m = _buffer.Length;
        var mean = NumpySum.Sum(_buffer) / m;
        var sumSq = NumpySum.SumSquaredDeviations(_buffer, mean);
        var raw = _options.SigmaMode == SigmaMode.Notebook ? Math.Sqrt(sumSq) : Math.Sqrt(sumSq / m);
        _sigma = _options.Gamma * raw + _oneMinusGamma * _sigma;

        var halfWidth = _options.K * _sigma;
        // Floors only ever widen, so with both at 0 the band is the notebook's pred -/+ k*sigma exactly.
        if (halfWidth < _options.MinBandWidth)
        {
            halfWidth = _options.MinBandWidth;
        }

        var relative = _options.MinRelativeBandWidth * Math.Abs(prediction);
        if (halfWidth < relative)
        {
            halfWidth = relative;
        }

        var armed = _count > _options.AlarmAfter;
        if (!armed && !_prior.IsNone)
        {
            if (halfWidth < _prior.HalfWidth)
            {
                halfWidth = _prior.HalfWidth;
            }

            armed = _count > _prior.ArmAfter;
        }

        var low = prediction - halfWidth;
        var high = prediction + halfWidth;
        var outside = value < low || value > high;
        var grade = 0.0;
        if (armed && outside)
        {
            grade = Grading.FromDistance(value < low ? low - value : value - high, halfWidth);
        }

        if (_count > 0)
        {
            _smoothed = _count < _options.WarmupReadings
                ? _options.WarmupAlpha * value + _oneMinusWarmupAlpha * _smoothed
                : _options.Alpha * value + _oneMinusAlpha * _smoothed;
        }

        _buffer[(int)(_count % m)] = value;
        _count++;

        return new DetectorScore(prediction, low, high, _sigma, armed && outside, grade);
    }

    // Layout v1: version byte, window (int32), count (int64), smoothed, sigma, then the M buffer slots.
    // v2 (written only with a prior, so states without one stay as they were): v1, then the prior's
    // half-width (double) and arm-after (int64).
    public void WriteState(BinaryWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.Write(_prior.IsNone ? StateVersion : StateVersionWithPrior);
        writer.Write(_buffer.Length);
        writer.Write(_count);
        writer.Write(_smoothed);
        writer.Write(_sigma);
        foreach (var slot in _buffer)
        {
            writer.Write(slot);
        }

        if (!_prior.IsNone)
        {
            writer.Write(_prior.HalfWidth);
            writer.Write(_prior.ArmAfter);
        }
    }

    public void ReadState(BinaryReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        var version = StateFormat.ReadVersion(reader, StateVersion, StateVersionWithPrior, KindName);
        StateFormat.Expect(reader.ReadInt32(), _buffer.Length, "window", KindName);
        var count = reader.ReadInt64();
        if (count < 0)
        {
            throw new InvalidDataException($"The {KindName} detector state has a negative count {count}.");
        }

        var smoothed = reader.ReadDouble();
        var sigma = reader.ReadDouble();
        // Read into a scratch copy so a truncated stream leaves this instance as it was.
        var buffer = new double[_buffer.Length];
        for (var i = 0; i < buffer.Length; i++)
        {
            buffer[i] = reader.ReadDouble();
        }

        var prior = DetectorPrior.None;
        if (version == StateVersionWithPrior)
        {
            prior = new DetectorPrior(reader.ReadDouble(), reader.ReadInt64());
            if (prior.Problem() is { } problem)
            {
                throw new InvalidDataException($"The {KindName} detector state has an unusable prior: {problem}.");
            }
        }

        _prior = prior;
        _count = count;
        _smoothed = smoothed;
        _sigma = sigma;
        buffer.CopyTo(_buffer, 0);
    }
}
