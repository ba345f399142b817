using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using AnomalyActors.Nab;

namespace AnomalyActors.Benchmarks.Nab;

/// <summary>
/// <c>nab --score-results DIR [--threshold T]</c>: scores a detector's published raw outputs and compares
/// them with its published tables. <c>nab [--data DIR] --detector NAME [--labels PATH]</c>: runs one
/// detector configuration strictly online over every series and scores it like NAB, in-sample and with
/// each category held out of every choice (<see cref="NabCrossValidation"/>, over the configurations
/// the named one was chosen from: <see cref="NabDetectors.Family"/>).
/// </summary>
internal static class NabHarness
{
    private static readonly string[] PublishedDetectors = ["numenta", "knncad", "randomCutForest", "twitterADVec", "windowedGaussian"];

    public static int Run(string[] argv)
    {
        var args = new HarnessArgs(argv);
        return args.Get("score-results") is { } results ? ScoreResults(args, results) : RunDetector(args);
    }

    private static string Full(string path) => Path.GetFullPath(path, Environment.CurrentDirectory);

    /// <summary>The labels file of a NAB-shaped folder: the first labels/combined_windows.json at or above it.</summary>
    private static string FindLabels(string start)
    {
        for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "labels", "combined_windows.json");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new FileNotFoundException($"No labels/combined_windows.json at or above {start}; pass --labels PATH.");
    }

    private static IReadOnlyList<NabProfile> Profiles(string labels)
    {
        var path = Path.Combine(Path.GetDirectoryName(Path.GetDirectoryName(labels)!)!, "reference", "profiles.json");
        return File.Exists(path) ? NabProfile.Load(path) : NabProfile.All;
    }

    private static int ScoreResults(HarnessArgs args, string resultsDir)
    {
        resultsDir = Full(resultsDir);
        var labelsPath = args.Get("labels") is { } l ? Full(l) : FindLabels(resultsDir);
        var windows = NabCorpus.ReadWindows(labelsPath);
        var files = NabReference.ReadResults(resultsDir)
            .Select(s => NabScorer.Prepare(s.Name, s.Timestamps, s.Values, Lookup(windows, s.Name)))
            .ToList();
        var profiles = Profiles(labelsPath);
        var raw = new Dictionary<string, double>();
        var normalised = new Dictionary<string, double>();
        var thresholds = new Dictionary<string, double>();
        var maxDiff = 0.0;
        var countMismatches = 0;
        var explicitThreshold = args.GetDouble("threshold");
        foreach (var profile in profiles)
        {
            var published = TryReadPublished(resultsDir, profile);

            // NAB optimises one threshold per profile: --threshold is the standard one (as quoted in the
            // README); the other profiles use their own published threshold unless none is available.
            var threshold = args.GetDouble("threshold-" + profile.Name)
                ?? (profile.Name == NabProfile.Standard.Name ? explicitThreshold : null)
                ?? published?.FirstOrDefault()?.Threshold
                ?? explicitThreshold
                ?? NabScorer.Optimise(files, profile).Threshold;
            thresholds[profile.Name] = threshold;
            var total = 0.0;
            foreach (var file in files)
            {
                var r = NabScorer.Score(file, profile, threshold);
                total += r.Score;
                var reference = published?.FirstOrDefault(p => p.File == file.Name);
                var note = "";
                if (reference is not null)
                {
                    var diff = Math.Abs(reference.Score - r.Score);
                    maxDiff = Math.Max(maxDiff, diff);
                    var same = (reference.Tp, reference.Fp, reference.Fn) == (r.Tp, r.Fp, r.Fn);
                    countMismatches += same ? 0 : 1;
                    note = string.Create(CultureInfo.InvariantCulture, $"  ref {reference.Score,10:F6} diff {diff:E1}{(same ? "" : " COUNTS DIFFER")}");
                }

                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{profile.Name,-20} {file.Name,-60} score {r.Score,10:F6} TP {r.Tp,4} FP {r.Fp,4} FN {r.Fn,4} TN {r.Tn,5}{note}"));
            }

            raw[profile.Name] = total;
            normalised[profile.Name] = NabScorer.Normalise(total, NabScorer.NullScore(files, profile), NabScorer.PerfectScore(files, profile));
        }

        Console.WriteLine(JsonSerializer.Serialize(new
        {
            mode = "score-results",
            results = resultsDir,
            files = files.Count,
            windows = files.Sum(f => f.Windows),
            thresholds,
            raw,
            normalised,
            max_abs_diff_vs_reference = maxDiff,
            count_mismatches = countMismatches,
        }));
        return maxDiff <= 1e-6 && countMismatches == 0 ? 0 : 1;
    }

    private static NabWindow[] Lookup(Dictionary<string, NabWindow[]> windows, string name) =>
        windows.TryGetValue(name, out var w) ? w : throw new KeyNotFoundException($"{name} has no entry in the labels file.");

    private static IReadOnlyList<NabPublishedRow>? TryReadPublished(string resultsDir, NabProfile profile)
    {
        var matches = Directory.GetFiles(resultsDir, $"*_{profile.Name}_scores.csv");
        return matches.Length == 1 ? NabReference.ReadScores(matches[0]) : null;
    }

    private static int RunDetector(HarnessArgs args)
    {
        var name = args.Get("detector") ?? throw new ArgumentException("nab: pass --detector NAME or --score-results DIR.");
        var family = NabDetectors.Family(name);
        var root = args.Get("data") is { } d ? Full(d) : NabCorpus.DefaultRoot();
        var dataDir = Directory.Exists(Path.Combine(root, "data")) ? Path.Combine(root, "data") : root;
        var labelsPath = args.Get("labels") is { } l ? Full(l) : FindLabels(root);
        var windows = NabCorpus.ReadWindows(labelsPath);
        var profiles = Profiles(labelsPath);
        var names = NabCorpus.ListDataFiles(dataDir);
        var series = names.Select(n => NabCorpus.ReadSeries(Path.Combine(dataDir, n), n)).ToArray();
        var maxParallel = args.GetInt("parallel") ?? 2;

        // The named configuration alone first, so its time per row is its own.
        var clock = Stopwatch.StartNew();
        var scored = Score(family[0].Create, names, series, windows, maxParallel);
        var detectSeconds = clock.Elapsed.TotalSeconds;
        var rows = series.Sum(s => (long)s.Values.Length);
        var runs = new List<NabCandidateRun> { new(family[0].Label, scored) };
        foreach (var (label, create) in family.Skip(1))
        {
            runs.Add(new NabCandidateRun(label, Score(create, names, series, windows, maxParallel)));
        }

        var thresholds = new Dictionary<string, double>();
        var normalised = new Dictionary<string, double>();
        var raw = new Dictionary<string, double>();
        foreach (var profile in profiles)
        {
            var best = NabScorer.Optimise(scored, profile);
            thresholds[profile.Name] = best.Threshold;
            var total = 0.0;
            foreach (var file in scored)
            {
                var r = NabScorer.Score(file, profile, best.Threshold);
                total += r.Score;
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{profile.Name,-20} {file.Name,-60} score {r.Score,10:F6} TP {r.Tp,4} FP {r.Fp,4} FN {r.Fn,4}"));
            }

            raw[profile.Name] = total;
            normalised[profile.Name] = NabScorer.Normalise(total, NabScorer.NullScore(scored, profile), NabScorer.PerfectScore(scored, profile));
        }

        var published = Published(root, labelsPath, scored, profiles);
        foreach (var (det, scores) in published)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"published {det,-18} standard {scores["standard"],6:F1}  reward_low_FP_rate {scores["reward_low_FP_rate"],6:F1}  reward_low_FN_rate {scores["reward_low_FN_rate"],6:F1}"));
        }

        var inSample = NabCrossValidation.InSample(runs, profiles);
        var heldOut = NabCrossValidation.LeaveOneCategoryOut(runs, profiles);
        PrintEvaluation(family.Count, inSample, heldOut);

        Console.WriteLine(JsonSerializer.Serialize(new
        {
            detector = name,
            files = scored.Length,
            windows = scored.Sum(f => f.Windows),
            standard = Math.Round(normalised["standard"], 3),
            reward_low_FP_rate = Math.Round(normalised["reward_low_FP_rate"], 3),
            reward_low_FN_rate = Math.Round(normalised["reward_low_FN_rate"], 3),
            thresholds,
            raw,
            rows,
            detect_seconds = Math.Round(detectSeconds, 2),
            us_per_row = Math.Round(detectSeconds * 1e6 / Math.Max(1, rows) * maxParallel, 2),
            candidates = family.Count,
            in_sample = Summary(inSample),
            leave_one_category_out = Summary(heldOut),
            published,
        }));
        return 0;
    }

    // Files are independent streams; each gets a fresh detector, so running them in parallel changes nothing.
    private static NabScoredFile[] Score(
        Func<INabStream> create, IReadOnlyList<string> names, NabSeries[] series, Dictionary<string, NabWindow[]> windows, int maxParallel)
    {
        var scored = new NabScoredFile[names.Count];
        Parallel.For(0, names.Count, new ParallelOptions { MaxDegreeOfParallelism = maxParallel }, i =>
        {
            var detector = create();
            var s = series[i];
            var scores = new double[s.Values.Length];
            for (var r = 0; r < scores.Length; r++)
            {
                var ms = new DateTimeOffset(DateTime.SpecifyKind(s.Timestamps[r], DateTimeKind.Utc)).ToUnixTimeMilliseconds();
                scores[r] = Math.Clamp(detector.Next(ms, s.Values[r]), 0.0, 1.0);
            }

            scored[i] = NabScorer.Prepare(names[i], s.Timestamps, scores, Lookup(windows, names[i]));
        });
        return scored;
    }

    private static void PrintEvaluation(int candidates, NabEvaluation inSample, NabEvaluation heldOut)
    {
        static string Figure(double? value) => value is { } v ? v.ToString("F1", CultureInfo.InvariantCulture) : "n/a";

        Console.WriteLine($"Standard per category, {candidates} candidate configuration(s): chosen on every file (in-sample) / on the other categories (held out)");
        for (var i = 0; i < heldOut.Categories.Count; i++)
        {
            var (inside, held) = (inSample.Categories[i], heldOut.Categories[i]);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  {held.Category,-22} {held.Files,3} files  in-sample {Figure(inside.Normalised["standard"]),6} (raw {inside.Raw["standard"],8:F3})  held out {Figure(held.Normalised["standard"]),6} (raw {held.Raw["standard"],8:F3})  with {held.Candidate}"));
        }

        foreach (var (label, evaluation) in new[] { ("in-sample", inSample), ("held out", heldOut) })
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  {label,-10} total  standard {evaluation.Normalised["standard"],6:F1}  reward_low_FP_rate {evaluation.Normalised["reward_low_FP_rate"],6:F1}  reward_low_FN_rate {evaluation.Normalised["reward_low_FN_rate"],6:F1}"));
        }
    }

    private static object Summary(NabEvaluation evaluation) => new
    {
        standard = Math.Round(evaluation.Normalised["standard"], 3),
        reward_low_FP_rate = Math.Round(evaluation.Normalised["reward_low_FP_rate"], 3),
        reward_low_FN_rate = Math.Round(evaluation.Normalised["reward_low_FN_rate"], 3),
        categories = evaluation.Categories.Select(c => new
        {
            category = c.Category,
            files = c.Files,
            candidate = c.Candidate,
            standard = c.Normalised["standard"] is { } s ? Math.Round(s, 3) : (double?)null,
            raw_standard = Math.Round(c.Raw["standard"], 3),
        }),
    };

    /// <summary>
    /// Published detectors recomputed on exactly these files: sum of their per-file scores, normalised with the
    /// same null and perfect scores as ours (files missing from a table make it incomparable, so it is skipped).
    /// </summary>
    private static Dictionary<string, Dictionary<string, double>> Published(
        string root, string labelsPath, IReadOnlyList<NabScoredFile> files, IReadOnlyList<NabProfile> profiles)
    {
        var result = new Dictionary<string, Dictionary<string, double>>();
        var referenceDir = Path.Combine(Path.GetDirectoryName(Path.GetDirectoryName(labelsPath)!)!, "reference");
        _ = root;
        var wanted = files.Select(f => f.Name).ToHashSet(StringComparer.Ordinal);
        foreach (var det in PublishedDetectors)
        {
            var dir = Path.Combine(referenceDir, det);
            if (!Directory.Exists(dir))
            {
                continue;
            }

            var scores = new Dictionary<string, double>();
            foreach (var profile in profiles)
            {
                var rows = TryReadPublished(dir, profile)?.Where(r => wanted.Contains(r.File)).ToList();
                if (rows is null || rows.Count != wanted.Count)
                {
                    break;
                }

                scores[profile.Name] = Math.Round(NabScorer.Normalise(rows.Sum(r => r.Score),
                    NabScorer.NullScore(files, profile), NabScorer.PerfectScore(files, profile)), 3);
            }

            if (scores.Count == profiles.Count)
            {
                result[det] = scores;
            }
        }

        return result;
    }
}
