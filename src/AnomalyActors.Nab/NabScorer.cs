namespace AnomalyActors.Nab;

/// <summary>Counts and raw score of one file (or the corpus) at one threshold.</summary>
public readonly record struct NabResult(double Threshold, double Score, int Tp, int Tn, int Fp, int Fn)
{
    public int Total => Tp + Tn + Fp + Fn;
}

/// <summary>
/// A file prepared for scoring: the rows after probation with their anomaly score, NAB's unweighted
/// sweep value (scaled sigmoid) and the window they fall in. Profile weights are applied later so one
/// preparation serves all three profiles.
/// </summary>
public sealed class NabScoredFile
{
    internal NabScoredFile(string name, int rows, int windows, double[] scores, double[] unweighted, int[] window)
    {
        Name = name;
        Rows = rows;
        Windows = windows;
        Scores = scores;
        Unweighted = unweighted;
        Window = window;
    }

    public string Name { get; }

    /// <summary>All rows of the file, probation included.</summary>
    public int Rows { get; }

    /// <summary>Labelled windows of the file (including any that fall entirely inside probation).</summary>
    public int Windows { get; }

    internal double[] Scores { get; }
    internal double[] Unweighted { get; }

    /// <summary>Window index within the file, or -1 outside every window.</summary>
    internal int[] Window { get; }

    /// <summary>Windows that have at least one row after probation: only these can be missed.</summary>
    public int ScorableWindows => Window.Where(w => w >= 0).Distinct().Count();
}

/// <summary>
/// NAB's scoring (nab/sweeper.py, nab/optimizer.py, runner normalisation) reimplemented with the same
/// arithmetic order, so published per-file scores are reproduced to rounding.
/// </summary>
public static class NabScorer
{
    public const double ProbationPercent = 0.15;

    /// <summary>Python's <c>min(floor(0.15*n), 0.15*5000)</c>: compared against row indices as a double.</summary>
    public static double ProbationLength(int rows) => Math.Min(Math.Floor(ProbationPercent * rows), ProbationPercent * 5000);

    public static double ScaledSigmoid(double relativePosition) =>
        relativePosition >= 3.0 ? -1.0 : (2 * Sigmoid(-5 * relativePosition)) - 1.0;

    private static double Sigmoid(double x) => 1 / (1 + Math.Exp(-x));

    private static readonly double MaxTp = ScaledSigmoid(-1.0);

    /// <summary>Applies NAB's window geometry to one file's scores (one per row, in [0, 1]).</summary>
    public static NabScoredFile Prepare(string name, IReadOnlyList<DateTime> timestamps, IReadOnlyList<double> scores, IReadOnlyList<NabWindow> windows)
    {
        ArgumentNullException.ThrowIfNull(timestamps);
        ArgumentNullException.ThrowIfNull(scores);
        ArgumentNullException.ThrowIfNull(windows);
        if (timestamps.Count != scores.Count)
        {
            throw new ArgumentException($"{name}: {timestamps.Count} timestamps but {scores.Count} scores.");
        }

        var index = new Dictionary<DateTime, int>(timestamps.Count);
        for (var i = 0; i < timestamps.Count; i++)
        {
            index.TryAdd(timestamps[i], i);
        }

        int IndexOf(DateTime t) => index.TryGetValue(t, out var i)
            ? i
            : throw new InvalidDataException($"{name}: window edge {t:yyyy-MM-dd HH:mm:ss} is not a timestamp of the series.");

        var probation = ProbationLength(timestamps.Count);
        var outScores = new List<double>();
        var outUnweighted = new List<double>();
        var outWindow = new List<int>();
        var next = 0;
        var cur = -1;
        var curRight = -1;
        var curWidth = 0.0;
        var prevRight = -1;
        var prevWidth = 0.0;
        for (var i = 0; i < timestamps.Count; i++)
        {
            if (next < windows.Count && timestamps[i] == windows[next].Start)
            {
                cur = next++;
                curRight = IndexOf(windows[cur].End);
                curWidth = curRight - IndexOf(windows[cur].Start) + 1;
            }

            double unweighted;
            if (cur >= 0)
            {
                unweighted = ScaledSigmoid(-(double)(curRight - i + 1) / curWidth);
            }
            else
            {
                var position = prevRight < 0 ? 3.0 : Math.Abs(prevRight - i) / (prevWidth - 1);
                unweighted = ScaledSigmoid(position);
            }

            if (i >= probation)
            {
                outScores.Add(scores[i]);
                outUnweighted.Add(unweighted);
                outWindow.Add(cur);
            }

            if (cur >= 0 && timestamps[i] == windows[cur].End)
            {
                prevRight = i;
                prevWidth = curWidth;
                cur = -1;
            }
        }

        if (next < windows.Count)
        {
            throw new InvalidDataException($"{name}: window starting {windows[next].Start:yyyy-MM-dd HH:mm:ss} matches no timestamp.");
        }

        return new NabScoredFile(name, timestamps.Count, windows.Count, outScores.ToArray(), outUnweighted.ToArray(), outWindow.ToArray());
    }

    private static double Weighted(NabScoredFile file, int row, NabProfile profile) =>
        file.Window[row] >= 0
            ? file.Unweighted[row] * profile.TpWeight / MaxTp
            : file.Unweighted[row] * profile.FpWeight;

    /// <summary>Sweeps every distinct score of the given files as one corpus (descending thresholds, 1.1 first).</summary>
    public static IReadOnlyList<NabResult> Sweep(IReadOnlyList<NabScoredFile> files, NabProfile profile)
    {
        ArgumentNullException.ThrowIfNull(files);
        ArgumentNullException.ThrowIfNull(profile);
        var points = new List<(double Score, double Sweep, int Key, int Order)>();
        var windowKeyBase = 0;
        foreach (var file in files)
        {
            for (var r = 0; r < file.Scores.Length; r++)
            {
                var key = file.Window[r] >= 0 ? windowKeyBase + file.Window[r] : -1;
                points.Add((file.Scores[r], Weighted(file, r, profile), key, points.Count));
            }

            windowKeyBase += file.Windows;
        }

        // Python's sorted(reverse=True) is stable: ties keep their corpus order.
        points.Sort((a, b) => a.Score != b.Score ? b.Score.CompareTo(a.Score) : a.Order.CompareTo(b.Order));

        // Window parts are summed in the order NAB's dict first sees them (the sorted order).
        var partOf = new Dictionary<int, int>();
        foreach (var p in points)
        {
            if (p.Key >= 0 && !partOf.ContainsKey(p.Key))
            {
                partOf[p.Key] = partOf.Count;
            }
        }

        var parts = Enumerable.Repeat(-profile.FnWeight, partOf.Count).ToArray();
        var fpPart = 0.0;
        int tp = 0, fp = 0;
        var tn = points.Count(p => p.Key < 0);
        var fn = points.Count - tn;
        var threshold = 1.1;
        var results = new List<NabResult>();

        double Total()
        {
            var sum = fpPart;
            foreach (var part in parts)
            {
                sum += part;
            }

            return sum;
        }

        foreach (var p in points)
        {
            if (p.Score != threshold)
            {
                results.Add(new NabResult(threshold, Total(), tp, tn, fp, fn));
                threshold = p.Score;
            }

            if (p.Key >= 0)
            {
                tp++;
                fn--;
                var i = partOf[p.Key];
                parts[i] = Math.Max(parts[i], p.Sweep);
            }
            else
            {
                fp++;
                tn--;
                fpPart += p.Sweep;
            }
        }

        results.Add(new NabResult(threshold, Total(), tp, tn, fp, fn));
        return results;
    }

    /// <summary>NAB's optimiser: the threshold with the highest corpus score (the highest such threshold on ties).</summary>
    public static NabResult Optimise(IReadOnlyList<NabScoredFile> files, NabProfile profile)
    {
        var best = default(NabResult);
        var first = true;
        foreach (var r in Sweep(files, profile))
        {
            if (first || r.Score > best.Score)
            {
                best = r;
                first = false;
            }
        }

        return best;
    }

    /// <summary>One file at a fixed threshold: every row scoring at least the threshold is a detection.</summary>
    public static NabResult Score(NabScoredFile file, NabProfile profile, double threshold)
    {
        ArgumentNullException.ThrowIfNull(file);
        ArgumentNullException.ThrowIfNull(profile);
        var order = Enumerable.Range(0, file.Scores.Length)
            .OrderByDescending(r => file.Scores[r])
            .ToArray();
        var partOf = new Dictionary<int, int>();
        foreach (var r in order)
        {
            if (file.Window[r] >= 0 && !partOf.ContainsKey(file.Window[r]))
            {
                partOf[file.Window[r]] = partOf.Count;
            }
        }

        var parts = Enumerable.Repeat(-profile.FnWeight, partOf.Count).ToArray();
        var fpPart = 0.0;
        int tp = 0, tn = 0, fp = 0, fn = 0;
        foreach (var r in order)
        {
            var detected = file.Scores[r] >= threshold;
            var w = file.Window[r];
            if (w >= 0)
            {
                if (detected)
                {
                    tp++;
                    var i = partOf[w];
                    parts[i] = Math.Max(parts[i], Weighted(file, r, profile));
                }
                else
                {
                    fn++;
                }
            }
            else if (detected)
            {
                fp++;
                fpPart += Weighted(file, r, profile);
            }
            else
            {
                tn++;
            }
        }

        var score = fpPart;
        foreach (var part in parts)
        {
            score += part;
        }

        return new NabResult(threshold, score, tp, tn, fp, fn);
    }

    /// <summary>
    /// NAB's normalisation: 100 for the perfect detector (every window caught at its left edge), 0 for the
    /// null detector (never fires, so every scorable window is missed).
    /// </summary>
    public static double Normalise(double raw, double nullScore, double perfect) => 100 * (raw - nullScore) / (perfect - nullScore);

    public static double NullScore(IEnumerable<NabScoredFile> files, NabProfile profile) =>
        -profile.FnWeight * files.Sum(f => f.ScorableWindows);

    public static double PerfectScore(IEnumerable<NabScoredFile> files, NabProfile profile) =>
        profile.TpWeight * files.Sum(f => f.Windows);
}
