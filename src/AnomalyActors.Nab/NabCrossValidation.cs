namespace AnomalyActors.Nab;

/// <summary>One candidate configuration's scored files, in the same file order for every candidate.</summary>
public sealed record NabCandidateRun(string Label, IReadOnlyList<NabScoredFile> Files);

/// <summary>
/// One category's figures under one choice: the candidate and per-profile thresholds applied to it, and
/// the raw and normalised score per profile. Normalised is null for a category without labelled windows
/// (its perfect and null scores are both 0), where the raw score (false positives only) is what counts.
/// </summary>
public sealed record NabCategoryScore(
    string Category,
    int Files,
    string Candidate,
    IReadOnlyDictionary<string, double> Thresholds,
    IReadOnlyDictionary<string, double> Raw,
    IReadOnlyDictionary<string, double?> Normalised);

/// <summary>Per-category figures and the corpus total per profile (normalised over every file).</summary>
public sealed record NabEvaluation(IReadOnlyList<NabCategoryScore> Categories, IReadOnlyDictionary<string, double> Raw, IReadOnlyDictionary<string, double> Normalised);

/// <summary>
/// In-sample and leave-one-category-out evaluation of a family of candidate configurations. A choice is a
/// candidate (the one with the best Standard-profile optimum on the files it may see) and one threshold
/// per profile (NAB's sweep on those files). In-sample, the choice sees every file; leaving a category
/// out, it sees the other categories only and is then applied unchanged to the one left out, so the
/// held-out figure is what a user with a new kind of stream can expect.
/// </summary>
public static class NabCrossValidation
{
    /// <summary>A file's category: the folder its name starts with (realTraffic/speed_7578.csv is realTraffic).</summary>
    public static string CategoryOf(string fileName)
    {
        ArgumentNullException.ThrowIfNull(fileName);
        var slash = fileName.IndexOf('/', StringComparison.Ordinal);
        return slash > 0 ? fileName[..slash] : string.Empty;
    }

    /// <summary>One choice on every file, reported per category and in total.</summary>
    public static NabEvaluation InSample(IReadOnlyList<NabCandidateRun> runs, IReadOnlyList<NabProfile> profiles)
    {
        var files = Validate(runs, profiles);
        var all = Enumerable.Range(0, files).ToArray();
        var (candidate, thresholds) = Choose(runs, profiles, all);
        var categories = Categories(runs[0])
            .Select(c => ScoreCategory(runs[candidate], c.Name, c.Files, profiles, thresholds))
            .ToList();
        return Total(runs[0], categories, profiles);
    }

    /// <summary>For each category, a choice on the other categories only, applied to it; the corpus total sums the held-out scores.</summary>
    public static NabEvaluation LeaveOneCategoryOut(IReadOnlyList<NabCandidateRun> runs, IReadOnlyList<NabProfile> profiles)
    {
        Validate(runs, profiles);
        var categories = Categories(runs[0]);
        if (categories.Count < 2)
        {
            throw new ArgumentException("Leaving a category out needs at least two categories.", nameof(runs));
        }

        var scores = new List<NabCategoryScore>();
        foreach (var (name, held) in categories)
        {
            var training = categories.Where(c => c.Name != name).SelectMany(c => c.Files).Order().ToArray();
            var (candidate, thresholds) = Choose(runs, profiles, training);
            scores.Add(ScoreCategory(runs[candidate], name, held, profiles, thresholds));
        }

        return Total(runs[0], scores, profiles);
    }

    private static int Validate(IReadOnlyList<NabCandidateRun> runs, IReadOnlyList<NabProfile> profiles)
    {
        ArgumentNullException.ThrowIfNull(runs);
        ArgumentNullException.ThrowIfNull(profiles);
        if (runs.Count == 0 || runs[0].Files.Count == 0)
        {
            throw new ArgumentException("No candidate or no file to evaluate.", nameof(runs));
        }

        if (!profiles.Any(p => p.Name == NabProfile.Standard.Name))
        {
            throw new ArgumentException("The candidate is chosen on the standard profile, which is missing.", nameof(profiles));
        }

        var names = runs[0].Files.Select(f => f.Name).ToArray();
        foreach (var run in runs)
        {
            if (!run.Files.Select(f => f.Name).SequenceEqual(names, StringComparer.Ordinal))
            {
                throw new ArgumentException($"Candidate {run.Label} scored other files, or in another order, than {runs[0].Label}.", nameof(runs));
            }
        }

        return names.Length;
    }

    private static List<(string Name, int[] Files)> Categories(NabCandidateRun run) =>
        run.Files
            .Select((f, i) => (Category: CategoryOf(f.Name), Index: i))
            .GroupBy(x => x.Category, StringComparer.Ordinal)
            .OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => (g.Key, g.Select(x => x.Index).ToArray()))
            .ToList();

    /// <summary>The candidate with the best Standard optimum on the given files (the first on ties), and its threshold per profile there.</summary>
    private static (int Candidate, Dictionary<string, double> Thresholds) Choose(IReadOnlyList<NabCandidateRun> runs, IReadOnlyList<NabProfile> profiles, int[] files)
    {
        var standard = profiles.First(p => p.Name == NabProfile.Standard.Name);
        var best = -1;
        var bestScore = double.NegativeInfinity;
        for (var c = 0; c < runs.Count; c++)
        {
            var score = NabScorer.Optimise(Subset(runs[c], files), standard).Score;
            if (score > bestScore)
            {
                (best, bestScore) = (c, score);
            }
        }

        var chosen = Subset(runs[best], files);
        var thresholds = profiles.ToDictionary(p => p.Name, p => NabScorer.Optimise(chosen, p).Threshold, StringComparer.Ordinal);
        return (best, thresholds);
    }

    private static NabScoredFile[] Subset(NabCandidateRun run, int[] files) => files.Select(i => run.Files[i]).ToArray();

    private static NabCategoryScore ScoreCategory(NabCandidateRun run, string category, int[] files, IReadOnlyList<NabProfile> profiles, Dictionary<string, double> thresholds)
    {
        var subset = Subset(run, files);
        var raw = new Dictionary<string, double>(StringComparer.Ordinal);
        var normalised = new Dictionary<string, double?>(StringComparer.Ordinal);
        foreach (var profile in profiles)
        {
            var total = subset.Sum(f => NabScorer.Score(f, profile, thresholds[profile.Name]).Score);
            var nullScore = NabScorer.NullScore(subset, profile);
            var perfect = NabScorer.PerfectScore(subset, profile);
            raw[profile.Name] = total;
            normalised[profile.Name] = perfect > nullScore ? NabScorer.Normalise(total, nullScore, perfect) : null;
        }

        return new NabCategoryScore(category, files.Length, run.Label, thresholds, raw, normalised);
    }

    private static NabEvaluation Total(NabCandidateRun any, List<NabCategoryScore> categories, IReadOnlyList<NabProfile> profiles)
    {
        var raw = new Dictionary<string, double>(StringComparer.Ordinal);
        var normalised = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var profile in profiles)
        {
            raw[profile.Name] = categories.Sum(c => c.Raw[profile.Name]);
            normalised[profile.Name] = NabScorer.Normalise(raw[profile.Name], NabScorer.NullScore(any.Files, profile), NabScorer.PerfectScore(any.Files, profile));
        }

        return new NabEvaluation(categories, raw, normalised);
    }
}
