using System.Globalization;

namespace AnomalyActors.Archive;

/// <summary>
/// Retention by age: whole days of the archive older than the configured number of days are
/// deleted, in every dataset and site (any collector may do it; deleting a day twice is harmless).
/// Only visible part files go, then the emptied directories; a file still being written is left to
/// its writer. A query running meanwhile may fail on a file that went away; it never reads half a file.
/// </summary>
public static class ArchiveRetention
{
    /// <summary>Deletes the days before <c>today - days</c> (UTC). Returns the files deleted.</summary>
    public static int Apply(string root, int days, DateTime nowUtc)
    {
        if (days <= 0 || !Directory.Exists(root))
        {
            return 0;
        }

        var oldestKept = DateOnly.FromDateTime(nowUtc).AddDays(-days);
        var deleted = 0;
        foreach (var dataset in Directory.EnumerateDirectories(root, "dataset=*"))
        {
            foreach (var site in Directory.EnumerateDirectories(dataset, "site=*"))
            {
                foreach (var day in Directory.EnumerateDirectories(site, "date=*"))
                {
                    if (!DateOnly.TryParseExact(Path.GetFileName(day)["date=".Length..], "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var date)
                        || date >= oldestKept)
                    {
                        continue;
                    }

                    foreach (var file in Directory.EnumerateFiles(day))
                    {
                        if (ArchiveLayout.ParsePart(Path.GetFileName(file)) is not null)
                        {
                            File.Delete(file);
                            deleted++;
                        }
                    }

                    DeleteIfEmpty(day);
                }

                DeleteIfEmpty(site);
            }
        }

        return deleted;
    }

    private static void DeleteIfEmpty(string directory)
    {
        try
        {
            if (!Directory.EnumerateFileSystemEntries(directory).Any())
            {
                Directory.Delete(directory);
            }
        }
        catch (IOException)
        {
            // Another writer put a file there meanwhile: it stays.
        }
    }
}

/// <summary>Retention by age, applied at start and then hourly by a collector.</summary>
internal sealed class Retention(string root, int days)
{
    private DateTime _next = DateTime.MinValue;

    public int FilesDeleted { get; private set; }

    public void ApplyIfDue(DateTime nowUtc)
    {
        if (days <= 0 || nowUtc < _next)
        {
            return;
        }

        _next = nowUtc + TimeSpan.FromHours(1);
        FilesDeleted += ArchiveRetention.Apply(root, days, nowUtc);
    }
}
