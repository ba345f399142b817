using AnomalyActors.Nab;

namespace AnomalyActors.Nab.Tests;

public sealed class NabCrossValidationSpecs
{
    private static readonly DateTime Start = new(2020, 1, 1);
    private static readonly DateTime[] Times = Enumerable.Range(0, 100).Select(i => Start.AddMinutes(i)).ToArray();
    private static readonly NabWindow Window = new(Times[50], Times[59]);

    /// <summary>A file with one window at rows 50-59, caught at its left edge or missed with a false positive at row 80.</summary>
    private static NabScoredFile File(string name, bool catches)
    {
        var scores = new double[Times.Length];
        scores[catches ? 50 : 80] = 1;
        return NabScorer.Prepare(name, Times, scores, [Window]);
    }

    // Candidate "a" catches the traffic files' anomalies and misses the tweets'; "b" the other way round.
    private static readonly NabCandidateRun[] Runs =
    [
        new("a", [File("realTraffic/1.csv", catches: true), File("realTraffic/2.csv", catches: true), File("realTweets/1.csv", catches: false)]),
        new("b", [File("realTraffic/1.csv", catches: false), File("realTraffic/2.csv", catches: false), File("realTweets/1.csv", catches: true)]),
    ];

    [Fact]
    public void Should_choose_the_candidate_for_a_held_out_category_on_the_other_categories_only()
    {
        // Act
        var held = NabCrossValidation.LeaveOneCategoryOut(Runs, NabProfile.All);
        var inSample = NabCrossValidation.InSample(Runs, NabProfile.All);

        // Assert: each category gets the candidate that suits the other one, and scores below its in-sample figure
        Assert.Equal(["realTraffic", "realTweets"], held.Categories.Select(c => c.Category));
        Assert.Equal(["b", "a"], held.Categories.Select(c => c.Candidate));
        Assert.Equal(["a", "a"], inSample.Categories.Select(c => c.Candidate));
        Assert.Equal(100, inSample.Categories[0].Normalised["standard"]!.Value, 6);
        Assert.True(held.Categories[0].Normalised["standard"] < 0, $"held-out traffic scored {held.Categories[0].Normalised["standard"]}");
        Assert.True(held.Normalised["standard"] < inSample.Normalised["standard"]);
    }

    [Fact]
    public void Should_sum_the_categories_into_the_corpus_total()
    {
        // Act
        var inSample = NabCrossValidation.InSample(Runs, NabProfile.All);

        // Assert: two of three windows caught at their left edge, the third missed with a false positive
        foreach (var profile in NabProfile.All)
        {
            Assert.Equal(inSample.Categories.Sum(c => c.Raw[profile.Name]), inSample.Raw[profile.Name], 9);
            var expected = Runs[0].Files.Sum(f => NabScorer.Score(f, profile, inSample.Categories[0].Thresholds[profile.Name]).Score);
            Assert.Equal(expected, inSample.Raw[profile.Name], 9);
        }
    }

    [Fact]
    public void Should_leave_the_normalised_score_of_a_category_without_windows_undefined()
    {
        // Arrange: a category of one file without any labelled window
        var quiet = NabScorer.Prepare("artificialNoAnomaly/flat.csv", Times, new double[Times.Length], []);
        var runs = Runs.Select(r => r with { Files = [.. r.Files, quiet] }).ToArray();

        // Act
        var held = NabCrossValidation.LeaveOneCategoryOut(runs, NabProfile.All);

        // Assert
        var category = Assert.Single(held.Categories, c => c.Category == "artificialNoAnomaly");
        Assert.Null(category.Normalised["standard"]);
        Assert.Equal(0, category.Raw["standard"]);
    }

    [Fact]
    public void Should_refuse_candidates_that_scored_different_files()
    {
        var runs = new[] { Runs[0], Runs[1] with { Files = Runs[1].Files.Reverse().ToArray() } };

        Assert.Throws<ArgumentException>(() => NabCrossValidation.LeaveOneCategoryOut(runs, NabProfile.All));
    }
}
