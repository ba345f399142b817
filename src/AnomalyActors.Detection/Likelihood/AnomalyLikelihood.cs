namespace AnomalyActors.Detection;

/// <summary>
/// Numenta's anomaly likelihood as a streaming post-processor of any raw anomaly score (RCF score, z-score
/// residual, HTM raw score): how improbable the short-term average of the latest scores is under a normal
/// distribution fitted to the recent history of such averages. Turns scores whose scale differs from stream
/// to stream into a comparable [0, 1] figure, so one corpus-wide threshold works.
/// </summary>
/// <remarks>
/// Per score, in this order (nupic's anomaly_likelihood.py, AnomalyLikelihood.anomalyProbability):
/// the score enters a ring of the last <c>AveragingWindow</c> raw scores and their mean is the averaged score;
/// while fewer than <c>LearningPeriod + EstimationSamples</c> scores came before it the likelihood is 0.5;
/// otherwise, if no distribution exists yet or the count is a multiple of <c>ReestimationPeriod</c>, mean and
/// population variance are re-estimated (with floors) from the stored averaged scores of earlier readings,
/// skipping those among the first <c>LearningPeriod</c> readings; the tail probability is the Gaussian
/// Q-function of the averaged score (mirrored below the mean when two-sided); a red-zone tail (&lt;= 1e-5)
/// right after another one is raised to 1e-3 (yellow) when <c>FilterRepeats</c>; likelihood = 1 - tail and
/// the log score = ln(tail + 1e-10) / ln(1e-10), in [0, 1] (0.5 at tail 1e-5). Then the averaged score is
/// stored in a ring of <c>HistoricWindow</c>. No allocation per score; the state round-trips exactly.
/// </remarks>
public sealed class AnomalyLikelihood
{
    private const byte StateVersion = 1;
    private const string Name = "anomaly likelihood";
    private const double RedTail = 1e-5;
    private const double YellowTail = 1e-3;
    private const double LogFloor = 1e-10;
    private static readonly double LogOfFloor = Math.Log(LogFloor);

    private readonly AnomalyLikelihoodOptions _options;
    private readonly double[] _recent;
    private readonly double[] _history;

    private long _count;
    private bool _estimated;
    private double _mean;
    private double _stdev;
    private double _previousRawTail = 1;

    public AnomalyLikelihood(AnomalyLikelihoodOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _recent = new double[options.AveragingWindow];
        _history = new double[options.HistoricWindow];
    }

    public AnomalyLikelihoodOptions Options => _options;

    /// <summary>Scores consumed so far.</summary>
    public long Count => _count;

    /// <summary>Mean of the averaged scores in the current distribution (NaN before the first estimate).</summary>
    public double Mean => _estimated ? _mean : double.NaN;

    /// <summary>Standard deviation of the current distribution (NaN before the first estimate).</summary>
    public double Deviation => _estimated ? _stdev : double.NaN;

    /// <summary>Short-term average of the latest raw scores (the value that was judged last).</summary>
    public double LastAverage { get; private set; }

    /// <summary>Tail probability of the latest average after filtering (0.5 while learning).</summary>
    public double LastTail { get; private set; } = 0.5;

    /// <summary>1 - tail of the latest score: the probability that it is anomalous.</summary>
    public double LastLikelihood => 1 - LastTail;

    /// <summary>The latest log score: ln(tail + 1e-10) / ln(1e-10) in [0, 1].</summary>
    public double LastLogLikelihood { get; private set; }

    /// <summary>Whether the latest score was judged against an estimated distribution (past learning).</summary>
    public bool Ready { get; private set; }

    /// <summary>Log score of a tail probability: 0 for tail 1, 0.5 for 1e-5, 1 for 0 (clamped to [0, 1]).</summary>
    public static double LogScore(double tail) => Math.Clamp(Math.Log(tail + LogFloor) / LogOfFloor, 0, 1);

    /// <summary>Folds one raw score in and returns its log likelihood score in [0, 1].</summary>
    public double Update(double score)
    {
        Guard.Finite(score, nameof(score));
        var window = _recent.Length;
        _recent[(int)(_count % window)] = score;
        var n = (int)Math.Min(_count + 1, window);
        var sum = 0.0;
        for (var i = 0; i < n; i++)
        {
            sum += _recent[i];
        }

        var average = sum / n;
        LastAverage = average;

        double tail;
        if (_count < _options.LearningPeriod + _options.EstimationSamples)
        {
            tail = 0.5;
            Ready = false;
        }
        else
        {
            if (!_estimated || _count % _options.ReestimationPeriod == 0)
            {
                Estimate();
            }

            var raw = Tail(average);
            tail = _options.FilterRepeats && raw <= RedTail && _previousRawTail <= RedTail ? YellowTail : raw;
            _previousRawTail = raw;
            Ready = true;
        }

        LastTail = tail;
        LastLogLikelihood = LogScore(tail);
        _history[(int)(_count % _history.Length)] = average;
        _count++;
        return LastLogLikelihood;
    }

    /// <summary>Gaussian tail probability of an averaged score under the current distribution.</summary>
    private double Tail(double x)
    {
        if (x < _mean)
        {
            if (!_options.TwoSided)
            {
                return 1;
            }

            x = (2 * _mean) - x;
        }

        return 0.5 * Erfc((x - _mean) / (_stdev * Math.Sqrt(2)));
    }

    /// <summary>Mean and population variance of the stored averages, oldest first, skipping learning-period ones.</summary>
    private void Estimate()
    {
        var capacity = _history.Length;
        var stored = (int)Math.Min(_count, capacity);
        var first = _count - stored; // reading index of the oldest stored average
        var skip = (int)Math.Clamp(_options.LearningPeriod - first, 0, stored);
        var used = stored - skip;
        var mean = 0.0;
        var variance = 0.0;
        if (used > 0)
        {
            var sum = 0.0;
            for (var j = skip; j < stored; j++)
            {
                sum += _history[(int)((first + j) % capacity)];
            }

            mean = sum / used;
            var squares = 0.0;
            for (var j = skip; j < stored; j++)
            {
                var d = _history[(int)((first + j) % capacity)] - mean;
                squares += d * d;
            }

            variance = squares / used;
        }

        _mean = Math.Max(mean, _options.MinMean);
        _stdev = Math.Sqrt(Math.Max(variance, _options.MinVariance));
        _estimated = true;
    }

    /// <summary>
    /// Complementary error function (Numerical Recipes' Chebyshev fit, fractional error below 1.2e-7
    /// everywhere), enough for tails down to the 1e-10 floor of the log score.
    /// </summary>
    internal static double Erfc(double x)
    {
        var z = Math.Abs(x);
        var t = 1.0 / (1.0 + (0.5 * z));
        var poly = 0.17087277;
        poly = -0.82215223 + (t * poly);
        poly = 1.48851587 + (t * poly);
        poly = -1.13520398 + (t * poly);
        poly = 0.27886807 + (t * poly);
        poly = -0.18628806 + (t * poly);
        poly = 0.09678418 + (t * poly);
        poly = 0.37409196 + (t * poly);
        poly = 1.00002368 + (t * poly);
        poly = -1.26551223 + (t * poly);
        var r = t * Math.Exp((-z * z) + poly);
        return x >= 0 ? r : 2 - r;
    }

    // Layout v1: version byte, averaging window (int32), historic window (int32), count (int64), estimated,
    // mean, stdev, previous raw tail, last average, last tail, last log score, ready, then both rings.
    public void WriteState(BinaryWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.Write(StateVersion);
        writer.Write(_recent.Length);
        writer.Write(_history.Length);
        writer.Write(_count);
        writer.Write(_estimated);
        writer.Write(_mean);
        writer.Write(_stdev);
        writer.Write(_previousRawTail);
        writer.Write(LastAverage);
        writer.Write(LastTail);
        writer.Write(LastLogLikelihood);
        writer.Write(Ready);
        foreach (var v in _recent)
        {
            writer.Write(v);
        }

        foreach (var v in _history)
        {
            writer.Write(v);
        }
    }

    public void ReadState(BinaryReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        StateFormat.ReadVersion(reader, StateVersion, Name);
        StateFormat.Expect(reader.ReadInt32(), _recent.Length, "averaging window", Name);
        StateFormat.Expect(reader.ReadInt32(), _history.Length, "historic window", Name);
        var count = reader.ReadInt64();
        if (count < 0)
        {
            throw new InvalidDataException($"The {Name} state has a negative count {count}.");
        }

        var estimated = reader.ReadBoolean();
        var mean = reader.ReadDouble();
        var stdev = reader.ReadDouble();
        var previousRawTail = reader.ReadDouble();
        var lastAverage = reader.ReadDouble();
        var lastTail = reader.ReadDouble();
        var lastLog = reader.ReadDouble();
        var ready = reader.ReadBoolean();
        // Scratch copies so a truncated stream leaves this instance as it was.
        var recent = new double[_recent.Length];
        for (var i = 0; i < recent.Length; i++)
        {
            recent[i] = reader.ReadDouble();
        }

        var history = new double[_history.Length];
        for (var i = 0; i < history.Length; i++)
        {
            history[i] = reader.ReadDouble();
        }

        _count = count;
        _estimated = estimated;
        _mean = mean;
        _stdev = stdev;
        _previousRawTail = previousRawTail;
        LastAverage = lastAverage;
        LastTail = lastTail;
        LastLogLikelihood = lastLog;
        Ready = ready;
        recent.CopyTo(_recent, 0);
        history.CopyTo(_history, 0);
    }
}
