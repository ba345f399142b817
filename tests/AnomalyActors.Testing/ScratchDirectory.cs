using System.Collections.Concurrent;

namespace AnomalyActors.Testing;

/// <summary>
/// Fresh directories under the temp folder that are deleted when the test process exits: a data
/// directory per test would otherwise pile up with every run (nodes still hold their SQLite files
/// while the test runs, so they cannot go when each test ends).
/// </summary>
public static class ScratchDirectory
{
    private static readonly ConcurrentBag<string> Created = [];

    static ScratchDirectory() => AppDomain.CurrentDomain.ProcessExit += (_, _) => DeleteAll();

    /// <summary>A new empty directory, <c>temp/area/random</c>.</summary>
    public static string Create(string area)
    {
        var directory = Path.Combine(Path.GetTempPath(), area, Guid.NewGuid().ToString("N"));
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

    private static void DeleteAll()
    {
        foreach (var directory in Created)
        {
            DeleteQuietly(directory);
        }
    }
}
