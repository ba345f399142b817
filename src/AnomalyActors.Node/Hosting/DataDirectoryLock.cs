using System.Globalization;

namespace AnomalyActors.Node.Hosting;

/// <summary>A second node was started on a data directory that a running node holds.</summary>
public sealed class DataDirectoryInUseException(string message) : Exception(message);

/// <summary>
/// One node per data directory: two nodes on one directory would both replay its journal, both
/// write its alerts file, and interleave their lines. The lock is an exclusive lock of a file in the
/// directory, held for as long as the node runs and released by the operating system when the
/// process ends, however it ends.
/// </summary>
public sealed class DataDirectoryLock : IDisposable
{
    public const string FileName = ".lock";
    public const string OwnerFileName = ".lock-owner";

    private readonly FileStream _lock;

    private DataDirectoryLock(FileStream file) => _lock = file;

    public static DataDirectoryLock Acquire(string dataDirectory)
    {
        Directory.CreateDirectory(dataDirectory);
        var path = Path.Combine(dataDirectory, FileName);
        var owner = Path.Combine(dataDirectory, OwnerFileName);
        FileStream file;
        try
        {
            file = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException)
        {
            var holder = File.Exists(owner) ? File.ReadAllText(owner).Trim() : "another process";
            throw new DataDirectoryInUseException(
                $"The data directory {dataDirectory} is in use by {holder}. Stop that node first, or give this one its own directory (--data-dir or ANOMALY_ACTORS_DATA_DIR).");
        }

        File.WriteAllText(owner, string.Create(CultureInfo.InvariantCulture,
            $"process {Environment.ProcessId} on {Environment.MachineName}, started {DateTimeOffset.UtcNow:yyyy-MM-ddTHH:mm:ssZ}"));
        return new DataDirectoryLock(file);
    }

    public void Dispose() => _lock.Dispose();
}
