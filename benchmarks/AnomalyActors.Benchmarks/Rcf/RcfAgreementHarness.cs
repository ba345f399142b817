using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using AnomalyActors.Benchmarks.Nab;
using AnomalyActors.Detection.Rcf;
using AnomalyActors.Nab;

namespace AnomalyActors.Benchmarks.Rcf;

/// <summary>
/// <c>rcf-agreement [--data ROOT] [--seed 42] [--trees 50] [--sample 256]</c>: our forest against the Java
/// RCF 4.3.0 reference scores (reference/rcf-java), same parameters, score-then-update, first 64 rows 0.
/// Per file: Spearman rank correlation after row 64 and the share of one run's top 1% inside the other's top 2%.
/// </summary>
internal static class RcfAgreementHarness
{
    private const int Skip = 64;

    public static int Run(string[] argv)
    {
        var args = new HarnessArgs(argv);
        var root = args.Get("data") is { } d ? Path.GetFullPath(d) : NabCorpus.DefaultRoot();
        var seed = (ulong)(args.GetInt("seed") ?? 42);
        var trees = args.GetInt("trees") ?? 50;
        var sample = args.GetInt("sample") ?? 256;
        var referenceDir = Path.Combine(root, "reference", "rcf-java");
        var names = NabCorpus.ListDataFiles(referenceDir);
        var spearman = new double[names.Count];
        var topShare = new double[names.Count];
        var rows = 0L;
        var clock = Stopwatch.StartNew();
        Parallel.For(0, names.Count, new ParallelOptions { MaxDegreeOfParallelism = args.GetInt("parallel") ?? 2 }, i =>
        {
            var reference = NabCorpus.ReadSeries(Path.Combine(referenceDir, names[i]), names[i], "anomaly_score").Values;
            var data = NabCorpus.ReadSeries(Path.Combine(root, "data", names[i]), names[i]).Values;
            var forest = new RandomCutForest(1, trees, sample, null, seed);
            var ours = new double[data.Length];
            var point = new double[1];
            for (var r = 0; r < data.Length; r++)
            {
                point[0] = data[r];
                ours[r] = r < Skip ? 0 : forest.Score(point);
                forest.Update(point);
            }

            Interlocked.Add(ref rows, data.Length);
            var a = ours[Skip..];
            var b = reference[Skip..];
            spearman[i] = Spearman(a, b);
            topShare[i] = 0.5 * (TopInTop(a, b) + TopInTop(b, a));
        });
        var seconds = clock.Elapsed.TotalSeconds;
        for (var i = 0; i < names.Count; i++)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{names[i],-60} spearman {spearman[i]:F4}  top1_in_top2 {topShare[i]:P1}"));
        }

        Console.WriteLine(JsonSerializer.Serialize(new
        {
            mode = "rcf-agreement",
            files = names.Count,
            trees,
            sample,
            seed,
            median_spearman = Math.Round(Quantile(spearman, 0.5), 4),
            p10_spearman = Math.Round(Quantile(spearman, 0.1), 4),
            min_spearman = Math.Round(spearman.Min(), 4),
            median_top1_in_top2 = Math.Round(Quantile(topShare, 0.5), 4),
            min_top1_in_top2 = Math.Round(topShare.Min(), 4),
            rows,
            seconds = Math.Round(seconds, 2),
        }));
        return 0;
    }

    internal static double Quantile(double[] values, double q)
    {
        var s = values.Order().ToArray();
        var pos = q * (s.Length - 1);
        var lo = (int)Math.Floor(pos);
        var hi = Math.Min(lo + 1, s.Length - 1);
        return s[lo] + ((pos - lo) * (s[hi] - s[lo]));
    }

    /// <summary>Average ranks for ties, so flat stretches do not invent an ordering.</summary>
    private static double[] Ranks(double[] x)
    {
        var idx = Enumerable.Range(0, x.Length).OrderBy(i => x[i]).ToArray();
        var ranks = new double[x.Length];
        for (var i = 0; i < idx.Length;)
        {
            var j = i;
            while (j + 1 < idx.Length && x[idx[j + 1]] == x[idx[i]])
            {
                j++;
            }

            for (var k = i; k <= j; k++)
            {
                ranks[idx[k]] = (i + j) / 2.0;
            }

            i = j + 1;
        }

        return ranks;
    }

    internal static double Spearman(double[] a, double[] b)
    {
        var ra = Ranks(a);
        var rb = Ranks(b);
        double ma = ra.Average(), mb = rb.Average(), sab = 0, saa = 0, sbb = 0;
        for (var i = 0; i < ra.Length; i++)
        {
            sab += (ra[i] - ma) * (rb[i] - mb);
            saa += (ra[i] - ma) * (ra[i] - ma);
            sbb += (rb[i] - mb) * (rb[i] - mb);
        }

        return saa == 0 || sbb == 0 ? 0 : sab / Math.Sqrt(saa * sbb);
    }

    /// <summary>Share of a's top 1% of rows that lie in b's top 2%.</summary>
    private static double TopInTop(double[] a, double[] b)
    {
        var k1 = Math.Max(1, (int)Math.Ceiling(a.Length * 0.01));
        var k2 = Math.Max(1, (int)Math.Ceiling(b.Length * 0.02));
        var topA = Enumerable.Range(0, a.Length).OrderByDescending(i => a[i]).Take(k1);
        // Rows tied with b's k2-th score count as inside its top 2%.
        var cutoff = b.OrderDescending().ElementAt(k2 - 1);
        return topA.Count(i => b[i] >= cutoff) / (double)k1;
    }
}
