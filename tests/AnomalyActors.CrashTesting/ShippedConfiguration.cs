namespace AnomalyActors.CrashTesting;

/// <summary>The configuration shipped next to the CLI, copied so a scenario can add its own lines.</summary>
public static class ShippedConfiguration
{
    /// <summary>Copies hocon/*.conf into <paramref name="target"/> and appends <paramref name="overrides"/> to anomaly-actors.conf.</summary>
    public static string CopyTo(string target, params string[] overrides)
    {
        var source = Path.Combine(AppContext.BaseDirectory, "hocon");
        Directory.CreateDirectory(target);
        foreach (var file in Directory.GetFiles(source, "*.conf"))
        {
            File.Copy(file, Path.Combine(target, Path.GetFileName(file)));
        }

        if (overrides.Length > 0)
        {
            File.AppendAllText(Path.Combine(target, "anomaly-actors.conf"), Environment.NewLine + string.Join(Environment.NewLine, overrides) + Environment.NewLine);
        }

        return target;
    }
}
