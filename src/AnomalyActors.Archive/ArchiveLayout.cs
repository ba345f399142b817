using System.Globalization;
using System.Text.RegularExpressions;

namespace AnomalyActors.Archive;

/// <summary>
/// Where a file of the archive lives, Hive style so that query engines read the directories as
/// columns: <c>dataset=NAME/site=SITE/date=YYYY-MM-DD/part-SOURCE-FIRST-LAST.parquet</c>. SOURCE names
/// the log the rows came from (e.g. a Kafka topic and partition of one site), FIRST and LAST the
/// offsets of the roll that wrote the file: a roll written again after a crash has the same name
/// and replaces its file instead of adding a copy. Files being written are hidden (a leading dot
/// and another extension), and the progress of each source is a small file under <c>_progress</c>, its writer's lock one
/// under <c>_locks</c>.
/// </summary>
public static partial class ArchiveLayout
{
    public const string Extension = ".parquet";

    private const string TemporaryMarker = ".writing-";

    /// <summary>The path, relative to the root, of one part file.</summary>
    public static string PartPath(string dataset, string site, DateOnly date, string source, long first, long last)
    {
        CheckName(dataset, nameof(dataset));
        CheckName(source, nameof(source));
        return Path.Combine(
            "dataset=" + dataset,
            "site=" + Escape(site),
            "date=" + date.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
            string.Create(CultureInfo.InvariantCulture, $"part-{source}-{first}-{last}{Extension}"));
    }

    /// <summary>A hidden name next to <paramref name="partPath"/> to write into before the rename.</summary>
    public static string TemporaryPath(string partPath) =>
        Path.Combine(Path.GetDirectoryName(partPath) ?? string.Empty, "." + Path.GetFileName(partPath) + TemporaryMarker + Guid.NewGuid().ToString("N")[..12]);

    public static bool IsTemporary(string fileName) => fileName.StartsWith('.') && fileName.Contains(TemporaryMarker, StringComparison.Ordinal);

    /// <summary>The name a hidden file is being written for (without its leading dot and marker), or null.</summary>
    public static string? TemporaryFor(string fileName)
    {
        var marker = fileName.IndexOf(TemporaryMarker, StringComparison.Ordinal);
        return fileName.StartsWith('.') && marker > 1 ? fileName[1..marker] : null;
    }

    /// <summary>The file holding how far <paramref name="source"/>'s rows of <paramref name="dataset"/> are archived.</summary>
    public static string ProgressPath(string dataset, string source)
    {
        CheckName(dataset, nameof(dataset));
        CheckName(source, nameof(source));
        return Path.Combine("_progress", "dataset=" + dataset, source);
    }

    /// <summary>The file whose lock a writer of <paramref name="source"/>'s rows of <paramref name="dataset"/> holds.</summary>
    public static string LockPath(string dataset, string source)
    {
        CheckName(dataset, nameof(dataset));
        CheckName(source, nameof(source));
        return Path.Combine("_locks", "dataset=" + dataset, source);
    }

    /// <summary>The source and offsets a part file's name carries, or null for any other file.</summary>
    public static (string Source, long First, long Last)? ParsePart(string fileName)
    {
        var match = PartName().Match(fileName);
        if (!match.Success)
        {
            return null;
        }

        return (match.Groups["source"].Value,
            long.Parse(match.Groups["first"].Value, CultureInfo.InvariantCulture),
            long.Parse(match.Groups["last"].Value, CultureInfo.InvariantCulture));
    }

    /// <summary>Dataset and source names go into file names as they are: letters, digits, '.', '_' and '-' only, not starting with '.'.</summary>
    public static bool IsValidName(string name) => name.Length is > 0 and <= 120 && ValidName().IsMatch(name);

    private static void CheckName(string name, string what)
    {
        if (!IsValidName(name))
        {
            throw new ArgumentException($"'{name}' cannot name an archive {what}: use 1-120 letters, digits, '.', '_' or '-', not starting with '.'.", what);
        }
    }

    /// <summary>
    /// A site comes from device topics, so anything may be in it: characters that would change the
    /// path (separators, '=', '%', a leading dot) are percent-encoded, as Hive does.
    /// </summary>
    private static string Escape(string site)
    {
        if (site.Length == 0)
        {
            return "%00";
        }

        var builder = new System.Text.StringBuilder(site.Length);
        for (var i = 0; i < site.Length; i++)
        {
            var c = site[i];
            if (c is '/' or '\\' or '=' or '%' or ':' or '\0' || char.IsControl(c) || (i == 0 && c == '.'))
            {
                builder.Append('%').Append(((int)c).ToString("X2", CultureInfo.InvariantCulture));
            }
            else
            {
                builder.Append(c);
            }
        }

        return builder.ToString();
    }

    [GeneratedRegex(@"^part-(?<source>[A-Za-z0-9._-]+)-(?<first>\d+)-(?<last>\d+)\.parquet$", RegexOptions.CultureInvariant)]
    private static partial Regex PartName();

    [GeneratedRegex(@"^[A-Za-z0-9_-][A-Za-z0-9._-]*$", RegexOptions.CultureInvariant)]
    private static partial Regex ValidName();
}
