using System.Globalization;

namespace AnomalyActors.Nab;

/// <summary>One row of a published NAB <c>*_scores.csv</c>.</summary>
public sealed record NabPublishedRow(string Detector, string Profile, string File, double Threshold, double Score, int Tp, int Tn, int Fp, int Fn, int TotalCount);

/// <summary>Reads NAB's published results: per-file score tables and raw per-row detector outputs.</summary>
public static class NabReference
{
    /// <summary>Rows of a <c>&lt;detector&gt;_&lt;profile&gt;_scores.csv</c>, without the "Totals" row if present.</summary>
    public static IReadOnlyList<NabPublishedRow> ReadScores(string path)
    {
        var rows = new List<NabPublishedRow>();
        foreach (var line in File.ReadLines(path).Skip(1))
        {
            var p = line.Split(',');
            if (p.Length < 10 || !p[2].EndsWith(".csv", StringComparison.Ordinal))
            {
                continue;
            }

            rows.Add(new NabPublishedRow(
                p[0], p[1], p[2],
                double.Parse(p[3], CultureInfo.InvariantCulture),
                double.Parse(p[4], CultureInfo.InvariantCulture),
                int.Parse(p[5], CultureInfo.InvariantCulture),
                int.Parse(p[6], CultureInfo.InvariantCulture),
                int.Parse(p[7], CultureInfo.InvariantCulture),
                int.Parse(p[8], CultureInfo.InvariantCulture),
                int.Parse(p[9], CultureInfo.InvariantCulture)));
        }

        return rows;
    }

    /// <summary>The <c>*_&lt;profile&gt;_scores.csv</c> in a detector's result folder.</summary>
    public static string ScoresPath(string resultsDir, NabProfile profile)
    {
        var matches = Directory.GetFiles(resultsDir, $"*_{profile.Name}_scores.csv");
        return matches.Length == 1
            ? matches[0]
            : throw new FileNotFoundException($"Expected one *_{profile.Name}_scores.csv in {resultsDir}, found {matches.Length}.");
    }

    /// <summary>
    /// Raw result files (<c>&lt;category&gt;/&lt;detector&gt;_&lt;name&gt;.csv</c>) keyed by the data file they score
    /// (<c>&lt;category&gt;/&lt;name&gt;.csv</c>), reading the <c>anomaly_score</c> column.
    /// </summary>
    public static IReadOnlyList<NabSeries> ReadResults(string resultsDir)
    {
        var detector = Path.GetFileName(Path.TrimEndingDirectorySeparator(resultsDir));
        var result = new List<NabSeries>();
        foreach (var category in Directory.GetDirectories(resultsDir).Order(StringComparer.Ordinal))
        {
            foreach (var file in Directory.GetFiles(category, "*.csv").Order(StringComparer.Ordinal))
            {
                var fileName = Path.GetFileName(file);
                var prefix = detector + "_";
                var dataName = fileName.StartsWith(prefix, StringComparison.Ordinal) ? fileName[prefix.Length..] : fileName;
                var name = $"{Path.GetFileName(category)}/{dataName}";
                result.Add(NabCorpus.ReadSeries(file, name, "anomaly_score"));
            }
        }

        return result;
    }
}
