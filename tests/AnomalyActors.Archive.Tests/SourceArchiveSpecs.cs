using System.Globalization;
using AnomalyActors.Testing;
using DuckDB.NET.Data;
using Xunit;

namespace AnomalyActors.Archive.Tests;

public sealed class SourceArchiveSpecs
{
    private static readonly DateTime Day = new(2026, 12, 6, 0, 0, 0, DateTimeKind.Utc);

    private static readonly ArchiveOptions Small = new(RollBytes: long.MaxValue, RollAge: TimeSpan.FromDays(1), RowGroupRows: 64);

    /// <summary>Rows of three sites over two days, offsets 0..count-1.</summary>
    private static EnrichedRow Row(long offset)
    {
        var site = $"site-{offset % 3}";
        var time = Day.AddHours(offset % 2 == 0 ? 1 : 25).AddMilliseconds(offset);
        var anomaly = offset % 17 == 0;
        return new EnrichedRow(
            new DateTimeOffset(time).ToUnixTimeMilliseconds(),
            site,
            $"device-{offset % 5}",
            "temp",
            offset * 0.5,
            offset * 0.5 - 1,
            offset * 0.5 - 3,
            offset * 0.5 + 3,
            anomaly ? 0.9 : 0.1,
            anomaly,
            anomaly ? $"{site}/device-{offset % 5}/temp#{offset}" : null,
            offset,
            "ewma:abc");
    }

    private static async Task WriteAsync(SourceArchive<EnrichedRow> archive, long from, long to)
    {
        for (var offset = from; offset < to; offset++)
        {
            await archive.AddAsync(offset, Row(offset));
        }
    }

    private static List<T> Query<T>(string root, string sql, Func<DuckDBDataReader, T> read)
    {
        using var connection = new DuckDBConnection("DataSource=:memory:");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql.Replace("ENRICHED", $"read_parquet('{root}/dataset=enriched/**/*.parquet', hive_partitioning = true)", StringComparison.Ordinal);
        using var reader = command.ExecuteReader();
        var rows = new List<T>();
        while (reader.Read())
        {
            rows.Add(read(reader));
        }

        return rows;
    }

    [Fact]
    public async Task Should_write_files_that_duckdb_and_a_second_reader_read_back_with_the_same_rows()
    {
        // Arrange
        var root = ScratchDirectory.Create("anomaly-actors-archive");
        await using var archive = new SourceArchive<EnrichedRow>(root, EnrichedDataset.Instance, "cluster.enriched.3", Small);
        Assert.Equal(-1, await archive.RecoverAsync());

        // Act
        await WriteAsync(archive, 0, 1000);
        var committed = await archive.RollAsync();

        // Assert: one file per site and day, named by the roll's offsets.
        Assert.Equal(999, committed);
        var files = Directory.GetFiles(root, "*.parquet", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(root, f)).Order().ToArray();
        Assert.Equal(6, files.Length);
        Assert.Contains(Path.Combine("dataset=enriched", "site=site-0", "date=2026-12-06", "part-cluster.enriched.3-0-999.parquet"), files);
        Assert.Contains(Path.Combine("dataset=enriched", "site=site-2", "date=2026-12-07", "part-cluster.enriched.3-0-999.parquet"), files);

        var byDuckDb = Query(root, "SELECT \"offset\", site, CAST(date AS VARCHAR), value, alert_id, epoch_ms(time) FROM ENRICHED ORDER BY \"offset\"",
            r => (r.GetInt64(0), r.GetString(1), r.GetString(2), r.GetDouble(3), r.IsDBNull(4) ? null : r.GetString(4), r.GetInt64(5)));
        Assert.Equal(1000, byDuckDb.Count);
        for (var offset = 0; offset < 1000; offset++)
        {
            var expected = Row(offset);
            var date = DateOnly.FromDateTime(DateTimeOffset.FromUnixTimeMilliseconds(expected.TimestampMs).UtcDateTime).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
            Assert.Equal((expected.Offset, expected.Site, date, expected.Value, expected.AlertId, expected.TimestampMs), byDuckDb[offset]);
        }

        var bySecondReader = new List<(long Offset, double Value, string? AlertId)>();
        foreach (var file in Directory.GetFiles(root, "*.parquet", SearchOption.AllDirectories))
        {
            using var reader = new ParquetSharp.ParquetFileReader(file);
            var columns = Enumerable.Range(0, reader.FileMetaData.NumColumns).ToDictionary(i => reader.FileMetaData.Schema.Column(i).Name);
            for (var g = 0; g < reader.FileMetaData.NumRowGroups; g++)
            {
                using var group = reader.RowGroup(g);
                var n = checked((int)group.MetaData.NumRows);
                using var offsets = group.Column(columns["offset"]).LogicalReader<long>();
                using var values = group.Column(columns["value"]).LogicalReader<double>();
                using var alerts = group.Column(columns["alert_id"]).LogicalReader<string?>();
                bySecondReader.AddRange(offsets.ReadAll(n).Zip(values.ReadAll(n), alerts.ReadAll(n)).Select(t => (t.First, t.Second, t.Third)));
            }

            reader.Close();
        }

        Assert.Equal(
            Enumerable.Range(0, 1000).Select(o => Row(o)).Select(r => (r.Offset, r.Value, r.AlertId)),
            bySecondReader.OrderBy(r => r.Offset));
    }

    [Fact]
    public async Task Should_show_nothing_of_a_roll_until_it_completes()
    {
        // Arrange
        var root = ScratchDirectory.Create("anomaly-actors-archive");
        await using var archive = new SourceArchive<EnrichedRow>(root, EnrichedDataset.Instance, "s", Small);
        await archive.RecoverAsync();

        // Act: several row groups written into hidden files.
        await WriteAsync(archive, 0, 500);

        // Assert
        Assert.Empty(Directory.GetFiles(root, "*.parquet", SearchOption.AllDirectories));
        Assert.NotEmpty(Directory.GetFiles(root, ".*", SearchOption.AllDirectories));
        await archive.RollAsync();
        Assert.Equal(500L, Query(root, "SELECT count(*) FROM ENRICHED", r => r.GetInt64(0)).Single());
        Assert.DoesNotContain(Directory.GetFiles(root, ".*", SearchOption.AllDirectories), f => !f.Contains("_progress", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Should_keep_every_row_exactly_once_when_a_roll_is_cut_short_and_replayed()
    {
        // Arrange: roll 1 (0-299) committed; roll 2 (300-599) renamed into place, but the process
        // died before its progress was written, with another roll's hidden file half written.
        var root = ScratchDirectory.Create("anomaly-actors-archive");
        await using (var first = new SourceArchive<EnrichedRow>(root, EnrichedDataset.Instance, "kafka.enriched.0", Small))
        {
            await first.RecoverAsync();
            await WriteAsync(first, 0, 300);
            await first.RollAsync();
            await WriteAsync(first, 300, 600);
            await first.RollAsync();
        }

        await File.WriteAllTextAsync(Path.Combine(root, ArchiveLayout.ProgressPath("enriched", "kafka.enriched.0")), "299");
        var half = Path.Combine(root, "dataset=enriched", "site=site-0", "date=2026-12-06", ".part-kafka.enriched.0-0-0.parquet.writing-abcdef012345");
        await File.WriteAllBytesAsync(half, [1, 2, 3]);
        var otherSource = Path.Combine(root, "dataset=enriched", "site=site-0", "date=2026-12-06", "part-kafka.enriched.0-x-300-599.parquet");
        await File.WriteAllBytesAsync(otherSource, [1]);

        // Act: recovery, then the log replayed from the progress on, in rolls that end elsewhere.
        await using var again = new SourceArchive<EnrichedRow>(root, EnrichedDataset.Instance, "kafka.enriched.0", Small);
        var resumeAfter = await again.RecoverAsync();
        Assert.True(File.Exists(otherSource), "another source's file went with the uncommitted roll");
        File.Delete(otherSource);
        Assert.False(await again.AddAsync(299, Row(299)));
        await WriteAsync(again, resumeAfter + 1, 450);
        await again.RollAsync();
        await WriteAsync(again, 450, 600);
        await again.RollAsync();

        // Assert
        Assert.Equal(299, resumeAfter);
        Assert.False(File.Exists(half));
        var offsets = Query(root, "SELECT \"offset\" FROM ENRICHED ORDER BY \"offset\"", r => r.GetInt64(0));
        Assert.Equal(Enumerable.Range(0, 600).Select(o => (long)o), offsets);
        Assert.Equal("599", (await File.ReadAllLinesAsync(Path.Combine(root, ArchiveLayout.ProgressPath("enriched", "kafka.enriched.0"))))[0]);
    }

    [Fact]
    public async Task Should_leave_another_sources_files_alone_when_recovering()
    {
        // Arrange: a source whose name starts like this one's, with a roll not yet committed.
        var root = ScratchDirectory.Create("anomaly-actors-archive");
        await using var other = new SourceArchive<EnrichedRow>(root, EnrichedDataset.Instance, "p-1", Small);
        await other.RecoverAsync();
        await WriteAsync(other, 0, 100);
        await other.RollAsync();
        await WriteAsync(other, 100, 200);

        // Act
        await using var archive = new SourceArchive<EnrichedRow>(root, EnrichedDataset.Instance, "p", Small);
        await archive.RecoverAsync();
        await other.RollAsync();

        // Assert
        Assert.Equal(200L, Query(root, "SELECT count(*) FROM ENRICHED", r => r.GetInt64(0)).Single());
    }

    [Fact]
    public async Task Should_leave_out_rows_a_stream_sends_again_after_its_sensor_scored_them_twice()
    {
        // Arrange: rows 0..299 archived; a sensor's crash makes it score 200..299 again, and they
        // come at new source offsets (300..399), before and after a restart of the archive.
        var root = ScratchDirectory.Create("anomaly-actors-archive");
        await using (var first = new SourceArchive<EnrichedRow>(root, EnrichedDataset.Instance, "node-a", Small))
        {
            await first.RecoverAsync();
            for (var offset = 0L; offset < 300; offset++)
            {
                Assert.True(await first.AddAsync(offset, Row(offset)));
            }

            for (var offset = 300L; offset < 350; offset++)
            {
                Assert.False(await first.AddAsync(offset, Row(offset - 100)));
            }

            await first.RollAsync();
        }

        // Act
        await using var again = new SourceArchive<EnrichedRow>(root, EnrichedDataset.Instance, "node-a", Small);
        Assert.Equal(349, await again.RecoverAsync());
        var taken = 0;
        for (var offset = 350L; offset < 500; offset++)
        {
            // 250..299 repeated, then 300..399 new.
            taken += await again.AddAsync(offset, Row(offset - 100)) ? 1 : 0;
        }

        await again.RollAsync();

        // Assert
        Assert.Equal(100, taken);
        Assert.Equal(50, again.Repeats);
        Assert.Equal([400L, 400L], Query(root, "SELECT count(*), count(DISTINCT \"offset\") FROM ENRICHED", r => new[] { r.GetInt64(0), r.GetInt64(1) }).Single());
    }

    [Fact]
    public async Task Should_let_one_writer_at_a_time_write_a_source()
    {
        // Arrange: a writer with a committed roll and one under way.
        var root = ScratchDirectory.Create("anomaly-actors-archive");
        var first = new SourceArchive<EnrichedRow>(root, EnrichedDataset.Instance, "kafka.enriched.1", Small);
        await first.RecoverAsync();
        await WriteAsync(first, 0, 100);
        await first.RollAsync();
        await WriteAsync(first, 100, 200);

        // Act: a second writer of the same source, while the first holds it and after it let go.
        await using var second = new SourceArchive<EnrichedRow>(root, EnrichedDataset.Instance, "kafka.enriched.1", Small);
        var takenWhileHeld = second.TryTake();
        var refusal = await Assert.ThrowsAsync<IOException>(() => second.RecoverAsync());
        await first.RollAsync();
        await first.DisposeAsync();
        var resumeAfter = await second.RecoverAsync();
        await WriteAsync(second, 200, 300);
        await second.RollAsync();

        // Assert: the second started where the first ended; nothing twice, nothing missing.
        Assert.False(takenWhileHeld);
        Assert.Contains("kafka.enriched.1", refusal.Message, StringComparison.Ordinal);
        Assert.Equal(199, resumeAfter);
        var offsets = Query(root, "SELECT \"offset\" FROM ENRICHED ORDER BY \"offset\"", r => r.GetInt64(0));
        Assert.Equal(Enumerable.Range(0, 300).Select(o => (long)o), offsets);
    }

    [Fact]
    public async Task Should_free_a_source_when_its_writer_dies()
    {
        var root = ScratchDirectory.Create("anomaly-actors-archive");
        var dead = new SourceArchive<EnrichedRow>(root, EnrichedDataset.Instance, "node-b", Small);
        await dead.RecoverAsync();
        await WriteAsync(dead, 0, 50);

        dead.LetGoAsIfDead();
        await using var next = new SourceArchive<EnrichedRow>(root, EnrichedDataset.Instance, "node-b", Small);

        Assert.Equal(-1, await next.RecoverAsync());
        Assert.Empty(Directory.EnumerateFiles(root, ".*", SearchOption.AllDirectories));
    }
}
