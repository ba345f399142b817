namespace AnomalyActors.Detection;

/// <summary>
/// The Talend pipeline's z-score over time windows: windows [start, start + window) with start a
/// multiple of the slide (tumbling when slide = window), population mean and standard deviation per
/// window, z = (x - mean) / std, alarm when |z| &gt; threshold.
/// </summary>
/// <remarks>
/// <para>Streaming semantics of <see cref="Update"/>: the reading is scored against the OLDEST window
/// that contains its timestamp (with sliding windows that one holds the most context; for tumbling
/// windows it is the only one), using every reading of that window seen so far, this one included.
/// A window's first readings therefore score against a partial window; <see cref="Batch"/> gives the
/// closed-window numbers Talend reports. Timestamps must not go backwards: a late reading is treated
/// as arriving at the newest timestamp seen (windows that already moved on are not reopened).</para>
/// <para>A window whose standard deviation is 0 (a single reading, or all equal) gives z = 0 and no
/// alarm instead of dividing by zero.</para>
/// <para>Score: Prediction = window mean, Sigma = population std, Low/High = mean -/+ threshold * std,
/// Grade = d/(1+d) with d = (|z| - threshold) / threshold, the distance outside over the band
/// half-width in sigma units; 0 when not out of band.</para>
/// <para>Internally the window is kept as per-pane aggregates (pane = gcd(window, slide)): count,
/// mean and sum of squared deviations (Welford), merged with Chan's formula, so memory is bounded by
/// the pane count rather than the reading rate and a constant window yields exactly std 0.</para>
/// </remarks>
public sealed class WindowZScore : IDetector
{
    public const string KindName = "wz";
    private const byte StateVersion = 1;

    private readonly WindowZScoreOptions _options;
    private readonly long _paneMs;
    private readonly long[] _paneId;
    private readonly long[] _paneCount;
    private readonly double[] _paneMean;
    private readonly double[] _paneM2;

    private long _count;
    private long _latestMs;

    public WindowZScore(WindowZScoreOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _paneMs = options.PaneMs;
        var panes = checked((int)(options.WindowMs / _paneMs));
        _paneId = new long[panes];
        _paneCount = new long[panes];
        _paneMean = new double[panes];
        _paneM2 = new double[panes];
    }

    public WindowZScoreOptions Options => _options;

    public string Kind => KindName;

    public long Count => _count;

    public DetectorScore Update(long timestampMs, double value)
    {
        Guard.Finite(value, nameof(value));

        var ts = _count > 0 && timestampMs < _latestMs ? _latestMs : timestampMs;
        var panes = _paneId.Length;
        var windowStart = (FloorDiv(ts - _options.WindowMs, _options.SlideMs) + 1) * _options.SlideMs;
        var firstPane = FloorDiv(windowStart, _paneMs);
        var pane = FloorDiv(ts, _paneMs);

        var slot = (int)FloorMod(pane, panes);
        if (_paneCount[slot] == 0 || _paneId[slot] != pane)
        {
            _paneId[slot] = pane;
            _paneCount[slot] = 0;
            _paneMean[slot] = 0;
            _paneM2[slot] = 0;
        }

        var n = ++_paneCount[slot];
        var delta = value - _paneMean[slot];
        _paneMean[slot] += delta / n;
        _paneM2[slot] += delta * (value - _paneMean[slot]);

        long count = 0;
        double mean = 0, m2 = 0;
        for (var id = firstPane; id <= pane; id++)
        {
            var s = (int)FloorMod(id, panes);
            var nb = _paneCount[s];
            if (nb == 0 || _paneId[s] != id)
            {
                continue;
            }

            if (count == 0)
            {
                count = nb;
                mean = _paneMean[s];
                m2 = _paneM2[s];
                continue;
            }

            var total = count + nb;
            var d = _paneMean[s] - mean;
            mean += d * nb / total;
            m2 += _paneM2[s] + d * d * ((double)count * nb / total);
            count = total;
        }

        _latestMs = ts;
        _count++;

        var std = Math.Sqrt(m2 / count);
        var threshold = _options.Threshold;
        var halfWidth = threshold * std;
        var z = std > 0 ? (value - mean) / std : 0;
        var outOfBand = Math.Abs(z) > threshold;
        var grade = outOfBand ? Grading.FromDistance(Math.Abs(z) - threshold, threshold) : 0;
        return new DetectorScore(mean, mean - halfWidth, mean + halfWidth, std, outOfBand, grade);
    }

    /// <summary>
    /// Talend's per-window output over a finished batch: every non-empty window ordered by start, the
    /// readings in input order, mean = (left-to-right sum) / n, std = sqrt((left-to-right sum of
    /// (x - mean)^2) / n), z = (x - mean) / std (0 when std is 0), anomaly when |z| &gt; threshold.
    /// Each reading is windowed by its own timestamp (no late-data clamping in batch).
    /// </summary>
    public static IReadOnlyList<WindowZScores> Batch(IReadOnlyList<TimedReading> readings, WindowZScoreOptions options)
    {
        ArgumentNullException.ThrowIfNull(readings);
        ArgumentNullException.ThrowIfNull(options);
        var windows = new SortedDictionary<long, List<TimedReading>>();
        for (var i = 0; i < readings.Count; i++)
        {
            var reading = readings[i];
            Guard.Finite(reading.Value, nameof(readings));
            var last = FloorDiv(reading.TimestampMs, options.SlideMs);
            for (var k = FloorDiv(reading.TimestampMs - options.WindowMs, options.SlideMs) + 1; k <= last; k++)
            {
                var start = k * options.SlideMs;
                if (!windows.TryGetValue(start, out var members))
                {
                    windows[start] = members = [];
                }

                members.Add(reading);
            }
        }

        var result = new List<WindowZScores>(windows.Count);
        foreach (var (start, members) in windows)
        {
            var sum = 0.0;
            foreach (var r in members)
            {
                sum += r.Value;
            }

            var mean = sum / members.Count;
            var sumSq = 0.0;
            foreach (var r in members)
            {
                var d = r.Value - mean;
                sumSq += d * d;
            }

            var std = Math.Sqrt(sumSq / members.Count);
            var z = new double[members.Count];
            var anomalies = new bool[members.Count];
            for (var i = 0; i < members.Count; i++)
            {
                z[i] = std > 0 ? (members[i].Value - mean) / std : 0;
                anomalies[i] = Math.Abs(z[i]) > options.Threshold;
            }

            result.Add(new WindowZScores(start, start + options.WindowMs, mean, std, members.ToArray(), z, anomalies));
        }

        return result;
    }

    // Layout v1: version byte, pane count (int32), count (int64), latest timestamp (int64), then per
    // pane slot: id (int64), count (int64), mean, m2.
    public void WriteState(BinaryWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.Write(StateVersion);
        writer.Write(_paneId.Length);
        writer.Write(_count);
        writer.Write(_latestMs);
        for (var i = 0; i < _paneId.Length; i++)
        {
            writer.Write(_paneId[i]);
            writer.Write(_paneCount[i]);
            writer.Write(_paneMean[i]);
            writer.Write(_paneM2[i]);
        }
    }

    public void ReadState(BinaryReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        StateFormat.ReadVersion(reader, StateVersion, KindName);
        var panes = _paneId.Length;
        StateFormat.Expect(reader.ReadInt32(), panes, "pane count", KindName);
        var count = reader.ReadInt64();
        if (count < 0)
        {
            throw new InvalidDataException($"The {KindName} detector state has a negative count {count}.");
        }

        var latest = reader.ReadInt64();
        // Read everything first so a truncated stream leaves this instance as it was.
        var ids = new long[panes];
        var counts = new long[panes];
        var means = new double[panes];
        var m2s = new double[panes];
        for (var i = 0; i < panes; i++)
        {
            ids[i] = reader.ReadInt64();
            counts[i] = reader.ReadInt64();
            means[i] = reader.ReadDouble();
            m2s[i] = reader.ReadDouble();
        }

        _count = count;
        _latestMs = latest;
        ids.CopyTo(_paneId, 0);
        counts.CopyTo(_paneCount, 0);
        means.CopyTo(_paneMean, 0);
        m2s.CopyTo(_paneM2, 0);
    }

    private static long FloorDiv(long a, long b)
    {
        var q = a / b;
        return (a % b != 0) && ((a < 0) != (b < 0)) ? q - 1 : q;
    }

    private static long FloorMod(long a, long b)
    {
        var m = a % b;
        return m < 0 ? m + b : m;
    }
}
