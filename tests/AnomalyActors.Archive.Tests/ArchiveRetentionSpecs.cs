using AnomalyActors.Testing;
using Xunit;

namespace AnomalyActors.Archive.Tests;

public sealed class ArchiveRetentionSpecs
{
    private static string Touch(string root, params string[] parts)
    {
        var path = Path.Combine([root, .. parts]);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, "x");
        return path;
    }

    [Fact]
    public void Should_delete_whole_days_older_than_the_retention_in_every_dataset_and_site_and_nothing_else()
    {
        // Arrange: today is 2026-12-06; 30 days kept means 2026-11-06 and later stay.
        var root = ScratchDirectory.Create("anomaly-actors-archive");
        var old = Touch(root, "dataset=enriched", "site=east", "date=2026-11-05", "part-a-0-9.parquet");
        var oldAlerts = Touch(root, "dataset=alerts", "site=west", "date=2026-01-01", "part-b-0-1.parquet");
        var writing = Touch(root, "dataset=enriched", "site=west", "date=2026-11-01", ".part-c-0-0.parquet.writing-0123456789ab");
        var kept = Touch(root, "dataset=enriched", "site=east", "date=2026-11-06", "part-a-10-19.parquet");
        var progress = Touch(root, "_progress", "dataset=enriched", "a");

        // Act
        var deleted = ArchiveRetention.Apply(root, days: 30, new DateTime(2026, 12, 6, 12, 0, 0, DateTimeKind.Utc));

        // Assert
        Assert.Equal(2, deleted);
        Assert.False(File.Exists(old));
        Assert.False(Directory.Exists(Path.GetDirectoryName(oldAlerts)));
        Assert.False(Directory.Exists(Path.Combine(root, "dataset=alerts", "site=west")));
        Assert.True(File.Exists(writing));
        Assert.True(File.Exists(kept));
        Assert.True(File.Exists(progress));
    }

    [Fact]
    public void Should_keep_everything_when_retention_is_zero()
    {
        var root = ScratchDirectory.Create("anomaly-actors-archive");
        var old = Touch(root, "dataset=enriched", "site=east", "date=2000-01-01", "part-a-0-9.parquet");

        Assert.Equal(0, ArchiveRetention.Apply(root, days: 0, DateTime.UtcNow));
        Assert.True(File.Exists(old));
    }
}
