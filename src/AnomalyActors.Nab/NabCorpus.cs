using System.Globalization;
using System.Text.Json;

namespace AnomalyActors.Nab;

/// <summary>A labelled anomaly window, both ends inclusive.</summary>
public readonly record struct NabWindow(DateTime Start, DateTime End);

/// <summary>One series: timestamps plus a numeric column (the value, or a detector's score).</summary>
public sealed record NabSeries(string Name, DateTime[] Timestamps, double[] Values);

/// <summary>Locating and reading NAB-shaped folders (data/, labels/, reference/).</summary>
public static class NabCorpus
{
    private static readonly string[] TimestampFormats =
        ["yyyy-MM-dd HH:mm:ss", "yyyy-MM-dd HH:mm:ss.ffffff", "yyyy-MM-dd HH:mm:ss.FFFFFFF", "yyyy-MM-ddTHH:mm:ss"];

    /// <summary>
    /// The vendored corpus, <c>datasets/nab</c> under the repository root. The root is found by walking up from
    /// the running assembly to the folder holding AnomalyActors.sln, so tests and harnesses find it from any
    /// build output folder. A missing corpus throws: NAB checks must fail, never pass vacuously.
    /// </summary>
    public static string DefaultRoot()
    {
        var repo = RepositoryRoot();
        var root = Path.Combine(repo, "datasets", "nab");
        if (!Directory.Exists(Path.Combine(root, "data")) || !Directory.Exists(Path.Combine(root, "labels")))
        {
            throw new DirectoryNotFoundException(
                $"NAB corpus not found at {root} (expected datasets/nab with data/ and labels/ under the repository root {repo}).");
        }

        return root;
    }

    public static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "AnomalyActors.sln")))
            {
                return dir.FullName;
            }
        }

        throw new DirectoryNotFoundException(
            $"No folder containing AnomalyActors.sln above {AppContext.BaseDirectory}; cannot locate the NAB corpus.");
    }

    public static DateTime ParseTimestamp(string text) =>
        DateTime.ParseExact(text.Trim(), TimestampFormats, CultureInfo.InvariantCulture, DateTimeStyles.None);

    /// <summary>Reads combined_windows.json: relative file name ("category/name.csv") to its windows.</summary>
    public static Dictionary<string, NabWindow[]> ReadWindows(string path)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        var result = new Dictionary<string, NabWindow[]>(StringComparer.Ordinal);
        foreach (var file in doc.RootElement.EnumerateObject())
        {
            result[file.Name] = file.Value.EnumerateArray()
                .Select(w => new NabWindow(ParseTimestamp(w[0].GetString()!), ParseTimestamp(w[1].GetString()!)))
                .ToArray();
        }

        return result;
    }

    /// <summary>Reads a CSV with a header, taking the timestamp column and the named numeric column.</summary>
    public static NabSeries ReadSeries(string path, string name, string column = "value")
    {
        using var reader = new StreamReader(path);
        var header = reader.ReadLine() ?? throw new InvalidDataException($"{path} is empty.");
        var columns = header.Split(',');
        var ts = Array.IndexOf(columns, "timestamp");
        var col = Array.IndexOf(columns, column);
        if (ts < 0 || col < 0)
        {
            throw new InvalidDataException($"{path} lacks a 'timestamp' or '{column}' column (header: {header}).");
        }

        var times = new List<DateTime>();
        var values = new List<double>();
        string? line;
        while ((line = reader.ReadLine()) is not null)
        {
            if (line.Length == 0)
            {
                continue;
            }

            var parts = line.Split(',');
            times.Add(ParseTimestamp(parts[ts]));
            values.Add(double.Parse(parts[col], NumberStyles.Float, CultureInfo.InvariantCulture));
        }

        return new NabSeries(name, times.ToArray(), values.ToArray());
    }

    /// <summary>Every series under a data folder, named "category/file.csv" like the label keys, sorted.</summary>
    public static IReadOnlyList<string> ListDataFiles(string dataDir)
    {
        if (!Directory.Exists(dataDir))
        {
            throw new DirectoryNotFoundException($"NAB data folder not found: {dataDir}");
        }

        return Directory.GetFiles(dataDir, "*.csv", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(dataDir, f).Replace('\\', '/'))
            .Order(StringComparer.Ordinal)
            .ToArray();
    }
}
