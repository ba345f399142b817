using System.Collections.Concurrent;

namespace AnomalyActors.Testing;

/// <summary>
/// Fresh directories under the temp folder that are deleted when the test process exits: a data
/// directory per test would otherwise pile up with every run (nodes still hold their SQLite files
/// while the test runs, so they cannot go when each test ends). The test host does not always get
/// as far as its exit handlers, so the first use of an area in a process also removes what earlier
/// processes left there more than <see cref="LeftoverAge"/> ago.
/// </summary>
public static class ScratchDirectory
{
    /// <summary>
    /// Old enough that no run still uses it: the whole suite takes minutes and a benchmark run less
    /// than an hour, while runs of other checkouts may share the area.
    /// </summary>
    public static readonly TimeSpan LeftoverAge = TimeSpan.FromHours(6);

    private static readonly ConcurrentBag<string> Created = [];
    private static readonly ConcurrentDictionary<string, bool> Swept = new(StringComparer.Ordinal);

    static ScratchDirectory() => AppDomain.CurrentDomain.ProcessExit += (_, _) => DeleteAll();

    /// <summary>A new empty directory, <c>temp/area/random</c>.</summary>
    public static string Create(string area)
    {
        var root = Path.Combine(Path.GetTempPath(), area);
        if (Swept.TryAdd(area, true))
        {
            DeleteLeftovers(root, DateTime.UtcNow - LeftoverAge);
        }

        var directory = Path.Combine(root, Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        Created.Add(directory);
        return directory;
    }

    /// <summary>
    /// Deletes a temp directory and what is in it, if it can: a file still held open is left for the
    /// OS's temp cleaning, since a failed clean-up must not fail the run that made it.
    /// </summary>
    public static void DeleteQuietly(string directory)
    {
        try
        {
            Directory.Delete(directory, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    private static void DeleteLeftovers(string root, DateTime olderThanUtc)
    {
        if (!Directory.Exists(root))
        {
            return;
        }

        foreach (var directory in Directory.EnumerateDirectories(root))
        {
            if (Directory.GetLastWriteTimeUtc(directory) < olderThanUtc)
            {
                DeleteQuietly(directory);
            }
        }
    }

    private static void DeleteAll()
    {
        foreach (var directory in Created)
        {
            DeleteQuietly(directory);
        }
    }
}
