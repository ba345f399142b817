namespace AnomalyActors.Core.Configuration;

/// <summary>Values written into HOCON text that code builds (overrides, generated blocks).</summary>
public static class HoconText
{
    /// <summary>A value as a quoted HOCON string: any path, name or connection string stays one value.</summary>
    public static string Quote(string value) =>
        "\"" + value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";
}
