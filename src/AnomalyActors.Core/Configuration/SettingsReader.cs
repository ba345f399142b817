using System.Globalization;
using Akka.Configuration;

namespace AnomalyActors.Core.Configuration;

/// <summary>
/// Reads one section of the configuration into typed values, once, at start-up. Every error names
/// the full key, the value found, what was expected and the configuration's source, so an operator
/// can fix it without reading code.
/// </summary>
public readonly struct SettingsReader
{
    private readonly Config _section;

    /// <param name="root">The whole configuration.</param>
    /// <param name="path">The section's path, e.g. <c>anomaly-actors.intake</c>.</param>
    /// <param name="source">Where the configuration came from (files, environment), named in errors.</param>
    public SettingsReader(Config root, string path, string source)
    {
        ArgumentNullException.ThrowIfNull(root);
        var section = root.GetConfig(path);
        if (section is null || section.IsEmpty)
        {
            throw new ConfigurationException($"Missing configuration section '{path}' ({source}).");
        }

        _section = section;
        Path = path;
        Source = source;
    }

    private SettingsReader(string path, string source, Config section)
    {
        _section = section;
        Path = path;
        Source = source;
    }

    public string Path { get; }
    public string Source { get; }

    /// <summary>The section itself, for readers that walk it (lists of blocks).</summary>
    public Config Section => _section;

    public bool Has(string key) => _section.HasPath(key);

    /// <summary>A nested section that must exist.</summary>
    public SettingsReader Child(string key)
    {
        var section = _section.GetConfig(key);
        return section is null || section.IsEmpty
            ? throw new ConfigurationException($"Missing configuration section '{Key(key)}' ({Source}).")
            : new SettingsReader(Key(key), Source, section);
    }

    /// <summary>A block given inline (an element of a list), read under the key path of that element.</summary>
    public static SettingsReader ForBlock(Config block, string path, string source) => new(path, source, block);

    public string Key(string key) => $"{Path}.{key}";

    public string Text(string key)
    {
        var value = Raw(key);
        return string.IsNullOrWhiteSpace(value)
            ? throw new ConfigurationException($"Missing or empty configuration key '{Key(key)}' ({Source}).")
            : value;
    }

    /// <summary>Empty or absent gives <paramref name="fallback"/>.</summary>
    public string? OptionalText(string key, string? fallback = null)
    {
        var value = Raw(key);
        return string.IsNullOrWhiteSpace(value) ? fallback : value;
    }

    public bool Flag(string key, bool fallback)
    {
        var value = Raw(key);
        if (string.IsNullOrWhiteSpace(value))
        {
            return fallback;
        }

        return value.Trim().ToLowerInvariant() switch
        {
            "on" or "true" or "yes" => true,
            "off" or "false" or "no" => false,
            _ => throw Invalid(key, value, "on or off"),
        };
    }

    public int Int(string key, int minimum, int maximum = int.MaxValue)
    {
        var value = Raw(key);
        if (!long.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var number) || number < minimum || number > maximum)
        {
            throw Invalid(key, value, maximum == int.MaxValue
                ? $"an integer of at least {minimum}"
                : $"an integer from {minimum} to {maximum}");
        }

        return (int)number;
    }

    public int PositiveInt(string key) => Int(key, 1);

    public int Port(string key) => Int(key, 0, 65535);

    public double Number(string key)
    {
        var value = Raw(key);
        return double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var number) && double.IsFinite(number)
            ? number
            : throw Invalid(key, value, "a number");
    }

    /// <summary>A duration such as 500ms, 30s, 2m, 1h or 1d (a bare number is milliseconds).</summary>
    public TimeSpan PositiveDuration(string key)
    {
        var value = Raw(key);
        TimeSpan duration;
        try
        {
            duration = string.IsNullOrWhiteSpace(value) ? TimeSpan.Zero : _section.GetTimeSpan(key, TimeSpan.Zero, allowInfinite: false);
        }
        catch (Exception e) when (e is FormatException or OverflowException or ConfigurationException or ArgumentException)
        {
            throw Invalid(key, value, "a duration such as 500ms, 30s, 2m or 1h");
        }

        return duration > TimeSpan.Zero ? duration : throw Invalid(key, value, "a positive duration such as 500ms, 30s, 2m or 1h");
    }

    public IReadOnlyList<string> List(string key)
    {
        try
        {
            return _section.HasPath(key) ? [.. _section.GetStringList(key)] : [];
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new ConfigurationException($"Configuration key '{Key(key)}' must be a list such as [a, b] ({Source}).", e);
        }
    }

    /// <summary>One of <paramref name="choices"/> (case-insensitive); absent or empty gives <paramref name="fallback"/>.</summary>
    public T Choice<T>(string key, IReadOnlyDictionary<string, T> choices, T fallback) =>
        OptionalText(key) is null ? fallback : Choice(key, choices);

    /// <summary>One of <paramref name="choices"/> (case-insensitive).</summary>
    public T Choice<T>(string key, IReadOnlyDictionary<string, T> choices)
    {
        var value = Text(key);
        foreach (var (name, choice) in choices)
        {
            if (string.Equals(name, value.Trim(), StringComparison.OrdinalIgnoreCase))
            {
                return choice;
            }
        }

        throw Invalid(key, value, string.Join(", ", choices.Keys));
    }

    public ConfigurationException Invalid(string key, string? value, string expected) =>
        new($"Configuration key '{Key(key)}' is '{value}'; expected {expected} ({Source}).");

    private string? Raw(string key)
    {
        try
        {
            return _section.HasPath(key) ? _section.GetString(key, null) : null;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // An object or a list where a value belongs.
            throw new ConfigurationException($"Configuration key '{Key(key)}' must be a single value ({Source}).", e);
        }
    }
}
