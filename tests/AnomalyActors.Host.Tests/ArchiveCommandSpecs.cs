using System.Globalization;
using AnomalyActors.Archive;
using AnomalyActors.Testing;
using Xunit;

namespace AnomalyActors.Host.Tests;

/// <summary>The query and describe commands over a fixed archive, and an archive a replay wrote, as users run them.</summary>
public sealed class ArchiveCommandSpecs
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(90);

    /// <summary>Two sites over two days: 12 readings, two of them anomalous, and their episode's open and close.</summary>
    private static async Task<string> FixtureAsync()
    {
        var root = Path.Combine(HostFixture.NewDataDirectory(), "archive");
        var start = new DateTimeOffset(2026, 12, 5, 23, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds();
        await using (var enriched = new SourceArchive<EnrichedRow>(root, EnrichedDataset.Instance, "fixture.enriched.0", ArchiveOptions.Default))
        {
            await enriched.RecoverAsync();
            for (var i = 0; i < 12; i++)
            {
                var site = i % 2 == 0 ? "east" : "west";
                var anomaly = i is 6 or 8;
                var value = anomaly ? 95.5 : 20 + i;
                await enriched.AddAsync(i, new EnrichedRow(
                    start + (i * 20 * 60_000), site, "fan-1", "rpm", value, 20 + i - 0.5, 15, 30 + i, anomaly ? 0.97 : 0.125, anomaly,
                    anomaly ? $"{site}/fan-1/rpm#1" : null, 100 + i, "ewma@0a1b2c3d"));
            }

            await enriched.RollAsync();
        }

        await using (var alerts = new SourceArchive<AlertRow>(root, AlertsDataset.Instance, "fixture.alerts.0", ArchiveOptions.Default))
        {
            await alerts.RecoverAsync();
            await alerts.AddAsync(0, new AlertRow(start + (6 * 20 * 60_000), "east", "fan-1", "rpm", "east/fan-1/rpm#1", "open", "critical", 1, 106, 95.5, 0.97, -1));
            await alerts.AddAsync(1, new AlertRow(start + (10 * 20 * 60_000), "east", "fan-1", "rpm", "east/fan-1/rpm#1", "close", "cleared", 1, 110, double.NaN, 0.97, 2));
            await alerts.RollAsync();
        }

        return root;
    }

    /// <summary>
    /// Compares with the expected output in Golden/. After a deliberate change of the output,
    /// ANOMALY_ACTORS_ACCEPT_GOLDEN=1 writes the new output there instead (review it in the diff).
    /// </summary>
    private static void AssertGolden(string name, string actual, [System.Runtime.CompilerServices.CallerFilePath] string sourceFile = "")
    {
        if (Environment.GetEnvironmentVariable("ANOMALY_ACTORS_ACCEPT_GOLDEN") == "1")
        {
            File.WriteAllText(Path.Combine(Path.GetDirectoryName(sourceFile)!, "Golden", name), actual);
            return;
        }

        Assert.Equal(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Golden", name)), actual);
    }

    private const string DailyPerSite =
        "SELECT site, date, count(*) AS readings, sum(anomaly::int) AS anomalous, round(avg(value), 3) AS mean, max(time) AS last FROM enriched GROUP BY ALL ORDER BY ALL";

    [Theory]
    [InlineData("table", "query-daily.txt")]
    [InlineData("csv", "query-daily.csv")]
    [InlineData("json", "query-daily.jsonl")]
    public async Task Should_answer_a_query_across_sites_in_each_format_as_the_golden_output(string format, string golden)
    {
        var root = await FixtureAsync();

        var (exit, output) = await CliProcess.RunAsync(root, Timeout, "query", DailyPerSite, "--archive", root, "--format", format);

        Assert.Equal(0, exit);
        AssertGolden(golden, output);
    }

    [Fact]
    public async Task Should_describe_the_alerts_as_the_golden_output()
    {
        var root = await FixtureAsync();

        var (exit, output) = await CliProcess.RunAsync(root, Timeout, "describe", "alerts", "--archive", root);

        Assert.Equal(0, exit);
        AssertGolden("describe-alerts.txt", output);
    }

    [Theory]
    [InlineData("SELECT * FROM read_csv('/etc/passwd')")]
    [InlineData("SELECT * FROM read_parquet('../**/*.parquet')")]
    [InlineData("COPY enriched TO 'stolen.csv'")]
    [InlineData("SELECT 1; DROP VIEW enriched")]
    public async Task Should_refuse_a_query_reaching_outside_the_archive_or_changing_it(string sql)
    {
        var root = await FixtureAsync();

        var (exit, output) = await CliProcess.RunAsync(root, Timeout, "query", sql, "--archive", root);

        Assert.Equal(1, exit);
        Assert.DoesNotContain("root:", output);
        Assert.False(File.Exists(Path.Combine(root, "stolen.csv")));
        Assert.Matches("(?i)(not allowed|permission|disabled|only one select|access)", output);
    }

    [Fact]
    public async Task Should_archive_a_replay_and_answer_for_every_reading()
    {
        // A NAB-style series of 3,000 readings with a spike, one a minute.
        var directory = HostFixture.NewDataDirectory();
        var file = Path.Combine(directory, "fan_speed.csv");
        var start = new DateTime(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc);
        File.WriteAllLines(file, new[] { "timestamp,value" }.Concat(Enumerable.Range(0, 3000).Select(i =>
            string.Create(CultureInfo.InvariantCulture, $"{start.AddMinutes(i):yyyy-MM-dd HH:mm:ss},{(i == 2500 ? 500 : 50 + (i % 7))}"))));
        var root = Path.Combine(directory, "archive");

        var (replayExit, replayOutput) = await CliProcess.RunAsync(directory, Timeout, "replay", file, "--archive", root);
        var (exit, output) = await CliProcess.RunAsync(directory, Timeout, "query",
            "SELECT count(*) AS n, count(DISTINCT \"offset\") AS offsets, max(score) > 0.5 AS spike FROM enriched", "--archive", root, "--format", "csv");

        Assert.Equal(0, replayExit);
        Assert.Contains("Archived", replayOutput);
        Assert.Equal(0, exit);
        Assert.Equal("n,offsets,spike\n3000,3000,true\n", output);
    }
}
