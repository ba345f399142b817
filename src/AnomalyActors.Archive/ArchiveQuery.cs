using System.Data.Common;
using System.Text.Json;
using DuckDB.NET.Data;

namespace AnomalyActors.Archive;

/// <summary>The columns and rows a query answered.</summary>
public sealed record QueryResult(IReadOnlyList<string> Columns, IReadOnlyList<object?[]> Rows);

/// <summary>
/// SQL over the archive with DuckDB, for analysts: each dataset is a view (<c>enriched</c>,
/// <c>alerts</c>) over its Parquet files with the Hive directories as columns. A query reads the
/// archive and nothing else: DuckDB's file access is limited to the root and its configuration is
/// locked before the query runs, only a single SELECT (or SUMMARIZE) is accepted (inside the root
/// DuckDB would still let COPY or ATTACH write), and a query running past its time is cancelled.
/// </summary>
public sealed class ArchiveQuery : IDisposable
{
    private readonly DuckDBConnection _connection;

    private ArchiveQuery(DuckDBConnection connection) => _connection = connection;

    /// <param name="root">The archive's root directory.</param>
    /// <param name="datasets">The datasets to offer as views; those without files yet are left out.</param>
    public static ArchiveQuery Open(string root, IEnumerable<string> datasets)
    {
        var full = Path.GetFullPath(root);
        if (!Directory.Exists(full))
        {
            throw new DirectoryNotFoundException($"The archive root {full} does not exist.");
        }

        var connection = new DuckDBConnection("DataSource=:memory:");
        try
        {
            connection.Open();
            foreach (var dataset in datasets)
            {
                if (!ArchiveLayout.IsValidName(dataset))
                {
                    throw new ArgumentException($"'{dataset}' is not a dataset name.", nameof(datasets));
                }

                var directory = Path.Combine(full, "dataset=" + dataset);
                if (Directory.Exists(directory) && Directory.EnumerateFiles(directory, "*" + ArchiveLayout.Extension, SearchOption.AllDirectories).Any())
                {
                    Execute(connection, $"CREATE VIEW {dataset} AS SELECT * EXCLUDE (dataset) FROM read_parquet({Literal(directory + "/**/*" + ArchiveLayout.Extension)}, hive_partitioning = true, union_by_name = true)");
                }
            }

            // Times as text (SUMMARIZE, casts) in UTC, whatever the machine's zone.
            Execute(connection, "SET TimeZone = 'UTC'");
            Execute(connection, $"SET allowed_directories = [{Literal(full)}]");
            Execute(connection, "SET enable_external_access = false");
            Execute(connection, "SET lock_configuration = true");
            return new ArchiveQuery(connection);
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    /// <summary>Runs one read-only statement; throws <see cref="ArchiveQueryException"/> with DuckDB's reason when it is refused or fails.</summary>
    public async Task<QueryResult> RunAsync(string sql, TimeSpan timeout, CancellationToken cancellation = default)
    {
        RefuseAnythingButOneSelect(sql);
        using var command = _connection.CreateCommand();
        command.CommandText = sql;
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        deadline.CancelAfter(timeout);

        // DuckDB.NET's async calls block their caller, and its CommandTimeout is not honoured:
        // the query runs on a worker and Cancel() interrupts it.
        using var registration = deadline.Token.Register(command.Cancel);
        try
        {
            return await Task.Run(() => Read(command), CancellationToken.None).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested && !cancellation.IsCancellationRequested)
        {
            throw new ArchiveQueryException($"The query ran longer than {timeout.TotalSeconds:0.#} s and was cancelled.");
        }
        catch (DuckDBException e)
        {
            throw new ArchiveQueryException(e.Message);
        }
    }

    private static QueryResult Read(DuckDBCommand command)
    {
        using var reader = command.ExecuteReader();
        var columns = Enumerable.Range(0, reader.FieldCount).Select(reader.GetName).ToArray();
        var rows = new List<object?[]>();
        while (reader.Read())
        {
            var row = new object?[reader.FieldCount];
            for (var i = 0; i < row.Length; i++)
            {
                row[i] = reader.IsDBNull(i) ? null : reader.GetValue(i);
            }

            rows.Add(row);
        }

        return new QueryResult(columns, rows);
    }

    /// <summary>DuckDB's own parser decides: only a lone SELECT serializes (SUMMARIZE is one).</summary>
    private void RefuseAnythingButOneSelect(string sql)
    {
        using var command = _connection.CreateCommand();
        command.CommandText = "SELECT json_serialize_sql(" + Literal(sql) + ")";
        var json = command.ExecuteScalar() as string ?? "{}";
        using var parsed = JsonDocument.Parse(json);
        var root = parsed.RootElement;
        if (root.TryGetProperty("error", out var error) && error.GetBoolean())
        {
            var message = root.TryGetProperty("error_message", out var m) ? m.GetString() : null;
            throw new ArchiveQueryException(message is not null && message.Contains("Only SELECT", StringComparison.Ordinal)
                ? "Only one SELECT (or SUMMARIZE) is allowed over the archive."
                : $"The query does not parse: {message}");
        }

        if (!root.TryGetProperty("statements", out var statements) || statements.GetArrayLength() != 1)
        {
            throw new ArchiveQueryException("Only one SELECT (or SUMMARIZE) is allowed over the archive.");
        }
    }

    private static void Execute(DbConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    private static string Literal(string text) => "'" + text.Replace("'", "''", StringComparison.Ordinal) + "'";

    public void Dispose() => _connection.Dispose();
}

/// <summary>A query refused or failed, with the reason to show the user.</summary>
public sealed class ArchiveQueryException(string message) : Exception(message);
