using Xunit;

namespace AnomalyActors.Archive.Tests;

public sealed class ArchiveLayoutSpecs
{
    [Fact]
    public void Should_name_a_part_by_dataset_site_date_source_and_offsets()
    {
        var path = ArchiveLayout.PartPath("enriched", "dc-1", new DateOnly(2026, 1, 2), "kafka.enriched.7", 100, 250);

        Assert.Equal(Path.Combine("dataset=enriched", "site=dc-1", "date=2026-01-02", "part-kafka.enriched.7-100-250.parquet"), path);
        Assert.Equal(("kafka.enriched.7", 100L, 250L), ArchiveLayout.ParsePart(Path.GetFileName(path)));
    }

    [Theory]
    [InlineData("part-a-b-3-10-20.parquet", "a-b-3", 10, 20)]
    [InlineData("part-x-0-0.parquet", "x", 0, 0)]
    public void Should_read_the_offsets_as_the_last_two_numbers_of_a_name(string name, string source, long first, long last)
    {
        Assert.Equal((source, first, last), ArchiveLayout.ParsePart(name));
    }

    [Theory]
    [InlineData(".part-x-0-0.parquet.writing-abc")]
    [InlineData("part-x-0.parquet")]
    [InlineData("part-x-0-1.parquet.tmp")]
    [InlineData("notes.txt")]
    public void Should_not_take_other_files_for_parts(string name)
    {
        Assert.Null(ArchiveLayout.ParsePart(name));
    }

    [Theory]
    [InlineData("../etc", "site=%2E.%2Fetc")]
    [InlineData("a/b", "site=a%2Fb")]
    [InlineData(".hidden", "site=%2Ehidden")]
    [InlineData("x=y", "site=x%3Dy")]
    [InlineData("", "site=%00")]
    public void Should_keep_any_site_inside_its_own_directory(string site, string expected)
    {
        var path = ArchiveLayout.PartPath("enriched", site, new DateOnly(2026, 1, 2), "s", 0, 0);

        Assert.Equal(expected, path.Split(Path.DirectorySeparatorChar)[1]);
    }

    [Theory]
    [InlineData("a/b")]
    [InlineData("..")]
    [InlineData("")]
    [InlineData("a b")]
    public void Should_refuse_source_names_that_would_change_the_path(string source)
    {
        Assert.Throws<ArgumentException>(() => ArchiveLayout.PartPath("enriched", "s", new DateOnly(2026, 1, 2), source, 0, 0));
    }

    [Fact]
    public void Should_hide_files_being_written_and_say_what_they_become()
    {
        var temporary = Path.GetFileName(ArchiveLayout.TemporaryPath(Path.Combine("d", "part-x-1-2.parquet")));

        Assert.StartsWith(".", temporary);
        Assert.False(temporary.EndsWith(".parquet", StringComparison.Ordinal));
        Assert.True(ArchiveLayout.IsTemporary(temporary));
        Assert.Equal("part-x-1-2.parquet", ArchiveLayout.TemporaryFor(temporary));
    }
}
