using Xunit;

namespace AnomalyActors.Detection.Tests;

public class EwmaBandNotebookSpecs
{
    [Fact]
    public void Should_flag_exactly_the_notebook_rows_on_every_NAB_series()
    {
        // Arrange
        var root = NabData.Root();
        var reference = new Dictionary<string, HashSet<int>>(StringComparer.Ordinal);
        var referenceTotal = 0;
        foreach (var line in File.ReadLines(Path.Combine(root, "reference", "seed-notebook", "anomalies.csv")).Skip(1))
        {
            var parts = line.Split(',');
            if (!reference.TryGetValue(parts[0], out var rows))
            {
                reference[parts[0]] = rows = [];
            }

            Assert.True(rows.Add(int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture)));
            referenceTotal++;
        }

        var series = NabData.AllSeries();
        var failures = new List<string>();
        var total = 0;

        // Act
        foreach (var (file, timestamps, values) in series)
        {
            var detector = new EwmaBand(EwmaBandOptions.Notebook);
            var flagged = new HashSet<int>();
            for (var row = 0; row < values.Length; row++)
            {
                if (detector.Update(timestamps[row], values[row]).OutOfBand)
                {
                    flagged.Add(row);
                }
            }

            total += flagged.Count;
            var expected = reference.GetValueOrDefault(file) ?? [];
            if (!flagged.SetEquals(expected))
            {
                var extra = flagged.Except(expected).Order().Take(5);
                var missing = expected.Except(flagged).Order().Take(5);
                failures.Add($"{file}: got {flagged.Count}, expected {expected.Count}; extra [{string.Join(",", extra)}] missing [{string.Join(",", missing)}]");
            }
        }

        // Assert
        Assert.Equal(51, series.Count);
        Assert.True(reference.Keys.All(k => series.Any(s => s.File == k)), "anomalies.csv names a file that is not under data/");
        Assert.True(failures.Count == 0, string.Join(Environment.NewLine, failures));
        Assert.Equal(7454, referenceTotal);
        Assert.Equal(7454, total);
    }

    [Fact]
    public void Should_flag_every_reading_after_warm_up_on_art_flatline_in_notebook_mode()
    {
        // Arrange
        var (timestamps, values) = NabData.ReadSeries(Path.Combine(NabData.Root(), "data", "artificialNoAnomaly", "art_flatline.csv"));
        var detector = new EwmaBand(EwmaBandOptions.Notebook);
        var flags = 0;

        // Act
        for (var i = 0; i < values.Length; i++)
        {
            flags += detector.Update(timestamps[i], values[i]).OutOfBand ? 1 : 0;
        }

        // Assert: rows 1001..4031, the notebook's flaw reproduced.
        Assert.Equal(4032, values.Length);
        Assert.Equal(3031, flags);
    }

    [Fact]
    public void Should_not_flag_art_flatline_with_the_product_default()
    {
        // Arrange
        var (timestamps, values) = NabData.ReadSeries(Path.Combine(NabData.Root(), "data", "artificialNoAnomaly", "art_flatline.csv"));
        var detector = new EwmaBand(EwmaBandOptions.Default);
        var flags = 0;

        // Act
        for (var i = 0; i < values.Length; i++)
        {
            flags += detector.Update(timestamps[i], values[i]).OutOfBand ? 1 : 0;
        }

        // Assert
        Assert.Equal(0, flags);
    }
}
