using System.Diagnostics;
using AnomalyActors.Testing;
using Xunit;

namespace AnomalyActors.Archive.Tests;

public sealed class ArchiveQuerySpecs
{
    private static readonly DateTime Day = new(2026, 12, 6, 0, 0, 0, DateTimeKind.Utc);

    /// <summary>An archive of 300 enriched rows: sites a, b and c in turn, one day, every tenth an anomaly.</summary>
    private static async Task<string> ArchiveAsync()
    {
        var root = ScratchDirectory.Create("anomaly-actors-archive");
        await using var archive = new SourceArchive<EnrichedRow>(root, EnrichedDataset.Instance, "p0", ArchiveOptions.Default);
        await archive.RecoverAsync();
        for (var offset = 0; offset < 300; offset++)
        {
            var site = ((char)('a' + offset % 3)).ToString();
            await archive.AddAsync(offset, new EnrichedRow(
                new DateTimeOffset(Day.AddSeconds(offset)).ToUnixTimeMilliseconds(), site, "d", "m", offset, 0, -1, 1, 0.1, offset % 10 == 0, null, offset, "f"));
        }

        await archive.RollAsync();
        return root;
    }

    [Fact]
    public async Task Should_answer_sql_over_the_datasets_with_their_directories_as_columns()
    {
        var root = await ArchiveAsync();
        using var query = ArchiveQuery.Open(root, ["enriched", "alerts"]);

        var result = await query.RunAsync("SELECT site, CAST(date AS VARCHAR) AS day, count(*) AS n, CAST(sum(CAST(anomaly AS INT)) AS BIGINT) AS anomalies FROM enriched GROUP BY ALL ORDER BY site", TimeSpan.FromSeconds(30));

        Assert.Equal(["site", "day", "n", "anomalies"], result.Columns);
        Assert.Equal(
            [["a", "2026-12-06", 100L, 10L], ["b", "2026-12-06", 100L, 10L], ["c", "2026-12-06", 100L, 10L]],
            result.Rows.Select(r => new object?[] { r[0], r[1], Convert.ToInt64(r[2]), Convert.ToInt64(r[3]) }));
    }

    [Fact]
    public async Task Should_describe_every_column_with_summarize()
    {
        var root = await ArchiveAsync();
        using var query = ArchiveQuery.Open(root, ["enriched"]);

        var result = await query.RunAsync("SUMMARIZE SELECT * FROM enriched", TimeSpan.FromSeconds(30));

        Assert.Contains("null_percentage", result.Columns);
        var value = result.Rows.Single(r => (string?)r[0] == "value");
        Assert.Equal("0.0", value[result.Columns.ToList().IndexOf("min")]?.ToString());
        Assert.Equal("299.0", value[result.Columns.ToList().IndexOf("max")]?.ToString());
    }

    [Theory]
    [InlineData("SELECT * FROM read_csv('/etc/passwd')")]
    [InlineData("SELECT * FROM read_parquet('ROOT/../elsewhere.parquet')")]
    [InlineData("SELECT * FROM glob('/etc/*')")]
    public async Task Should_refuse_to_read_outside_the_archive_root(string sql)
    {
        var root = await ArchiveAsync();
        using var query = ArchiveQuery.Open(root, ["enriched"]);

        var error = await Assert.ThrowsAsync<ArchiveQueryException>(() => query.RunAsync(sql.Replace("ROOT", root, StringComparison.Ordinal), TimeSpan.FromSeconds(30)));

        Assert.Contains("disabled by configuration", error.Message);
    }

    [Theory]
    [InlineData("COPY (SELECT 1) TO 'ROOT/x.csv'")]
    [InlineData("SELECT 1; COPY (SELECT 1) TO 'ROOT/x.csv'")]
    [InlineData("ATTACH 'ROOT/x.csv' AS x")]
    [InlineData("SET lock_configuration = false")]
    [InlineData("CREATE TABLE x AS SELECT 1")]
    public async Task Should_refuse_anything_but_a_single_select_even_inside_the_root(string sql)
    {
        var root = await ArchiveAsync();
        using var query = ArchiveQuery.Open(root, ["enriched"]);

        var error = await Assert.ThrowsAsync<ArchiveQueryException>(() => query.RunAsync(sql.Replace("ROOT", root, StringComparison.Ordinal), TimeSpan.FromSeconds(30)));

        Assert.Contains("Only one SELECT", error.Message);
        Assert.False(File.Exists(Path.Combine(root, "x.csv")));
    }

    [Fact]
    public async Task Should_cancel_a_query_that_runs_past_its_time()
    {
        var root = await ArchiveAsync();
        using var query = ArchiveQuery.Open(root, ["enriched"]);
        var clock = Stopwatch.StartNew();

        var error = await Assert.ThrowsAsync<ArchiveQueryException>(() =>
            query.RunAsync("SELECT count(*) FROM range(100000000000) t(i) WHERE i % 7 = 3", TimeSpan.FromSeconds(1)));

        Assert.Contains("cancelled", error.Message);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), $"cancelled only after {clock.Elapsed}");
        Assert.Single((await query.RunAsync("SELECT 42", TimeSpan.FromSeconds(30))).Rows);
    }
}
