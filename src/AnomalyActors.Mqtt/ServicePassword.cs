using System.Security.Cryptography;

namespace AnomalyActors.Mqtt;

/// <summary>
/// The password of the node's own account on its embedded broker when the configuration gives none:
/// random, made on the first start, kept in the data directory readable by its owner only, and read
/// from there by every later start and by <c>anomaly-actors simulate --data-dir</c>. No installation
/// shares a password with another.
/// </summary>
public static class ServicePassword
{
    public const string FileName = "mqtt-service-password";

    public static string PathIn(string dataDirectory) => Path.Combine(dataDirectory, FileName);

    public static string? TryRead(string dataDirectory)
    {
        var path = PathIn(dataDirectory);
        return File.Exists(path) ? File.ReadAllText(path).Trim() : null;
    }

    public static string ReadOrCreate(string dataDirectory)
    {
        if (TryRead(dataDirectory) is { Length: > 0 } existing)
        {
            return existing;
        }

        Directory.CreateDirectory(dataDirectory);
        var password = Convert.ToBase64String(RandomNumberGenerator.GetBytes(24)).Replace('+', '-').Replace('/', '_');
        var path = PathIn(dataDirectory);
        var temporary = path + ".tmp-" + Environment.ProcessId;
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        using (var file = new StreamWriter(temporary, options))
        {
            file.Write(password);
        }

        try
        {
            // No overwrite: when two starts race, the first one's password stays.
            File.Move(temporary, path, overwrite: false);
            return password;
        }
        catch (IOException) when (File.Exists(path))
        {
            File.Delete(temporary);
            return TryRead(dataDirectory) ?? throw new IOException($"{path} is empty.");
        }
    }
}
