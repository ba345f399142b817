using System.Globalization;
using System.Numerics;
using System.Text;
using System.Text.Json;
using AnomalyActors.Archive;
using AnomalyActors.Host;

namespace AnomalyActors.Cli;

/// <summary>
/// <c>query "SQL"</c> and <c>describe [DATASET]</c>: SQL over the Parquet archive with DuckDB
/// (read-only, nothing outside the archive root, a time limit), printed as a table, CSV or JSON.
/// </summary>
internal static class QueryCommand
{
    private static readonly OptionSpec[] Shared =
    [
        new("archive", "DIR", "The archive root (default: anomaly-actors.archive.root of the config, ANOMALY_ACTORS_ARCHIVE_ROOT)."),
        new("format", "table|csv|json", "Output format (default table). json prints one object per row, one per line."),
        new("timeout", "SECONDS", "Cancel the query after this long (default: anomaly-actors.archive.query-timeout)."),
        new("config", "DIR", "Folder with anomaly-actors.conf and akka.conf (default: the hocon folder shipped with the program)."),
    ];

    public static readonly CommandSpec QuerySpec = new(
        "query",
        "Run one SQL SELECT over the archive: tables enriched and alerts, with site and date from the directories.",
        "SQL",
        "e.g. \"SELECT site, date, count(*) FROM enriched GROUP BY ALL ORDER BY ALL\".",
        Shared);

    public static readonly CommandSpec DescribeSpec = new(
        "describe",
        "Print per-column statistics of an archive dataset (DuckDB's SUMMARIZE: type, min, max, distinct values, mean, stddev, quartiles, count, nulls).",
        "[DATASET]",
        "enriched (default) or alerts.",
        Shared);

    public static readonly string[] Datasets = ["enriched", "alerts"];

    public static Task<int> QueryAsync(ParsedArguments args, CancellationToken stopping)
    {
        var sql = args.Argument ?? throw new UsageException("query needs the SQL to run, in quotes");
        return RunAsync(args, sql, stopping);
    }

    public static Task<int> DescribeAsync(ParsedArguments args, CancellationToken stopping)
    {
        var dataset = args.Argument ?? "enriched";
        if (!Datasets.Contains(dataset))
        {
            throw new UsageException($"describe: unknown dataset '{dataset}' (enriched or alerts)");
        }

        return RunAsync(args, $"SUMMARIZE {dataset}", stopping);
    }

    private static async Task<int> RunAsync(ParsedArguments args, string sql, CancellationToken stopping)
    {
        var format = args.Choice("format", "table", new Dictionary<string, string> { ["table"] = "table", ["csv"] = "csv", ["json"] = "json" });
        var settings = AnomalyActorsSettings.Load(hoconDirectory: NodeOptions.ConfigDirectory(args)).Archive;
        var root = args.Text("archive") is { } given ? Path.GetFullPath(given) : settings.Root;
        var timeout = args.Text("timeout") is null ? settings.QueryTimeout : TimeSpan.FromSeconds(args.Double("timeout", 60, minimum: 0.1));
        if (!Directory.Exists(root))
        {
            await Console.Error.WriteLineAsync($"anomaly-actors: the archive root {root} does not exist (--archive DIR or anomaly-actors.archive.root).");
            return ExitCodes.Failure;
        }

        try
        {
            using var archive = ArchiveQuery.Open(root, Datasets);
            var result = await archive.RunAsync(sql, timeout, stopping);
            Console.Out.Write(format switch
            {
                "csv" => Csv(result),
                "json" => JsonLines(result),
                _ => Table(result),
            });
            return ExitCodes.Ok;
        }
        catch (ArchiveQueryException e)
        {
            await Console.Error.WriteLineAsync($"anomaly-actors: {e.Message}");
            return ExitCodes.Failure;
        }
    }

    /// <summary>Columns aligned, numbers to the right, a header and a rule, the row count at the end.</summary>
    public static string Table(QueryResult result)
    {
        var cells = result.Rows.Select(row => row.Select(Text).ToArray()).ToList();
        var widths = result.Columns.Select((c, i) => Math.Max(c.Length, cells.Count == 0 ? 0 : cells.Max(r => r[i].Length))).ToArray();
        var numeric = result.Columns.Select((_, i) => result.Rows.Count > 0 && result.Rows.All(r => r[i] is null || IsNumber(r[i]!))).ToArray();
        var output = new StringBuilder();
        void Line(IReadOnlyList<string> values)
        {
            var line = new StringBuilder();
            for (var i = 0; i < values.Count; i++)
            {
                if (i > 0)
                {
                    line.Append("  ");
                }

                line.Append(numeric[i] ? values[i].PadLeft(widths[i]) : values[i].PadRight(widths[i]));
            }

            // No padding after the last column.
            output.Append(line.ToString().TrimEnd(' ')).Append('\n');
        }

        Line(result.Columns);
        Line(widths.Select(w => new string('-', w)).ToArray());
        foreach (var row in cells)
        {
            Line(row);
        }

        output.Append(CultureInfo.InvariantCulture, $"({result.Rows.Count} row{(result.Rows.Count == 1 ? string.Empty : "s")})\n");
        return output.ToString();
    }

    /// <summary>RFC 4180: a header line, fields quoted when they hold a comma, quote or line break; nulls empty.</summary>
    public static string Csv(QueryResult result)
    {
        var output = new StringBuilder();
        output.AppendJoin(',', result.Columns.Select(Quote)).Append('\n');
        foreach (var row in result.Rows)
        {
            output.AppendJoin(',', row.Select(v => v is null ? string.Empty : Quote(Text(v)))).Append('\n');
        }

        return output.ToString();

        static string Quote(string field) =>
            field.AsSpan().IndexOfAny(",\"\r\n") >= 0 ? "\"" + field.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : field;
    }

    /// <summary>One JSON object per row (JSON lines), numbers as numbers, times as ISO 8601.</summary>
    public static string JsonLines(QueryResult result)
    {
        var output = new StringBuilder();
        foreach (var row in result.Rows)
        {
            using var buffer = new MemoryStream();
            using (var json = new Utf8JsonWriter(buffer))
            {
                json.WriteStartObject();
                for (var i = 0; i < row.Length; i++)
                {
                    json.WritePropertyName(result.Columns[i]);
                    switch (row[i])
                    {
                        case null:
                            json.WriteNullValue();
                            break;
                        case bool b:
                            json.WriteBooleanValue(b);
                            break;
                        case double d when !double.IsFinite(d):
                            json.WriteStringValue(Text(d));
                            break;
                        case float f when !float.IsFinite(f):
                            json.WriteStringValue(Text(f));
                            break;
                        case BigInteger big:
                            json.WriteRawValue(big.ToString(CultureInfo.InvariantCulture));
                            break;
                        case var v when IsNumber(v):
                            json.WriteRawValue(Text(v));
                            break;
                        case var v:
                            json.WriteStringValue(Text(v));
                            break;
                    }
                }

                json.WriteEndObject();
            }

            output.Append(Encoding.UTF8.GetString(buffer.ToArray())).Append('\n');
        }

        return output.ToString();
    }

    private static bool IsNumber(object value) => value is sbyte or byte or short or ushort or int or uint or long or ulong or float or double or decimal or BigInteger;

    /// <summary>One value as text, the same on every machine (invariant culture, times in UTC ISO 8601).</summary>
    public static string Text(object? value) => value switch
    {
        null => "NULL",
        // A TIMESTAMP without zone comes as Unspecified: the archive's times are UTC.
        DateTime t => (t.Kind == DateTimeKind.Local ? t.ToUniversalTime() : t).ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture),
        DateTimeOffset t => t.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture),
        DateOnly d => d.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        float f => f.ToString("R", CultureInfo.InvariantCulture),
        bool b => b ? "true" : "false",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? string.Empty,
    };
}
