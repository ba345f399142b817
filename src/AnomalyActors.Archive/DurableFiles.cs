using System.Runtime.InteropServices;

namespace AnomalyActors.Archive;

/// <summary>
/// Writes that survive a power cut once they return: data flushed to disk before the rename that
/// makes it visible, and the directory flushed after it (its entries are data of their own).
/// </summary>
public static class DurableFiles
{
    /// <summary>Creates <paramref name="path"/> (which must not exist) with <paramref name="contents"/>, flushed to disk.</summary>
    public static void WriteNew(string path, ReadOnlySpan<byte> contents)
    {
        using var stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None);
        stream.Write(contents);
        stream.Flush(flushToDisk: true);
    }

    /// <summary>Replaces a small file's contents all at once: a hidden copy, flushed to disk, renamed over it.</summary>
    public static void Replace(string path, ReadOnlySpan<byte> contents)
    {
        var directory = Path.GetDirectoryName(path)!;
        Directory.CreateDirectory(directory);
        var temporary = Path.Combine(directory, HiddenName(Path.GetFileName(path)));
        try
        {
            WriteNew(temporary, contents);
            File.Move(temporary, path, overwrite: true);
        }
        catch
        {
            TryDelete(temporary);
            throw;
        }

        SyncDirectory(directory);
    }

    /// <summary>A name no one else uses, hidden by its leading dot, for something being written for <paramref name="name"/>.</summary>
    public static string HiddenName(string name) => Path.GetFileName(ArchiveLayout.TemporaryPath(name));

    /// <summary>Removes what a failed write left, if it can: the failure that caused it is the one to report.</summary>
    public static void TryDelete(string path)
    {
        try
        {
            if (Directory.Exists(path))
            {
                Directory.Delete(path, recursive: true);
            }
            else
            {
                File.Delete(path);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Hidden and ignored by readers; the next clean-up of leftovers takes it.
        }
    }

    /// <summary>Makes the entries of <paramref name="directory"/> (creations, renames) durable.</summary>
    public static void SyncDirectory(string directory)
    {
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS())
        {
            return;
        }

        var fd = open(directory, 0 /* O_RDONLY */);
        if (fd < 0)
        {
            throw new IOException($"Cannot open {directory} to flush it (errno {Marshal.GetLastPInvokeError()}).");
        }

        try
        {
            if (fsync(fd) != 0)
            {
                throw new IOException($"Flushing {directory} failed (errno {Marshal.GetLastPInvokeError()}).");
            }
        }
        finally
        {
            _ = close(fd);
        }
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int open([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags);

    [DllImport("libc", SetLastError = true)]
    private static extern int fsync(int fd);

    [DllImport("libc", SetLastError = true)]
    private static extern int close(int fd);
}
