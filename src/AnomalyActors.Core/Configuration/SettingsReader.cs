using System.Globalization;
using Akka.Configuration;

namespace AnomalyActors.Core.Configuration;

/// <summary>
/// Reads one section of the configuration into typed values, once, at start-up. Every error names
/// the full key, the value found, what was expected and where the value came from (the file, or the
/// environment variable that set it), so an operator can fix it without reading code. Every key it
/// is asked about is recorded in the <see cref="ConfigOrigin"/>, so keys nobody reads can be refused.
/// </summary>
public readonly struct SettingsReader
{
    private readonly Config _section;

    /// <param name="root">The whole configuration.</param>
    /// <param name="path">The section's path, e.g. <c>anomaly-actors.intake</c>.</param>
    /// <param name="origin">Where the configuration came from, named in errors.</param>
    public SettingsReader(Config root, string path, ConfigOrigin origin)
    {
        ArgumentNullException.ThrowIfNull(root);
        var section = root.GetConfig(path);
        if (section is null || section.IsEmpty)
        {
            throw new ConfigurationException($"Missing configuration section '{path}' ({origin.File}).");
        }

        _section = section;
        Path = path;
        Origin = origin;
    }

    private SettingsReader(string path, ConfigOrigin origin, Config section)
    {
        _section = section;
        Path = path;
        Origin = origin;
    }

    public string Path { get; }
    public ConfigOrigin Origin { get; }

    /// <summary>The section itself, for readers that walk it (lists of blocks).</summary>
    public Config Section => _section;

    public bool Has(string key)
    {
        Origin.Consulted(Key(key));
        return _section.HasPath(key);
    }

    /// <summary>A nested section that must exist.</summary>
    public SettingsReader Child(string key)
    {
        var section = _section.GetConfig(key);
        return section is null || section.IsEmpty
            ? throw new ConfigurationException($"Missing configuration section '{Key(key)}' ({Origin.File}).")
            : new SettingsReader(Key(key), Origin, section);
    }

    /// <summary>
    /// A block given inline (an element of a list), read under the key path of that element. Its keys
    /// are not part of the configuration's tree, so <see cref="RejectUnknownKeys"/> checks them.
    /// </summary>
    public static SettingsReader ForBlock(Config block, string path, ConfigOrigin origin) => new(path, origin, block);

    /// <summary>The blocks of a list (<c>key = [ { ... }, { ... } ]</c>), each read under its element's key path; none when the key is absent.</summary>
    public IEnumerable<SettingsReader> Blocks(string key)
    {
        Has(key);
        var list = _section.GetValue(key);
        if (list is null || list.IsEmpty)
        {
            yield break;
        }

        var i = 0;
        foreach (var entry in list.GetArray())
        {
            yield return ForBlock(new Config(new Akka.Configuration.Hocon.HoconRoot(entry)), $"{Key(key)}[{i++}]", Origin);
        }
    }

    public string Key(string key) => $"{Path}.{key}";

    public string Text(string key)
    {
        var value = Raw(key);
        return string.IsNullOrWhiteSpace(value)
            ? throw new ConfigurationException($"Missing or empty configuration key '{Key(key)}' ({Origin.Of(Key(key))}){Misspelling(key)}.")
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

    /// <summary>Absent gives <paramref name="fallback"/>.</summary>
    public int Int(string key, int fallback, int minimum, int maximum) => Raw(key) is null ? fallback : Int(key, minimum, maximum);

    public long Long(string key, long minimum)
    {
        var value = Raw(key);
        return long.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var number) && number >= minimum
            ? number
            : throw Invalid(key, value, $"an integer of at least {minimum}");
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

    /// <summary>Absent gives <paramref name="fallback"/>.</summary>
    public double Number(string key, double fallback) => Raw(key) is null ? fallback : Number(key);

    /// <summary>A duration such as 500ms, 30s, 2m, 1h or 1d (a bare number is milliseconds).</summary>
    public TimeSpan PositiveDuration(string key)
    {
        var value = Raw(key);
        TimeSpan duration;
        try
        {
            duration = value is null ? throw Invalid(key, null, "a duration such as 500ms, 30s, 2m or 1h")
                : string.IsNullOrWhiteSpace(value) ? TimeSpan.Zero : _section.GetTimeSpan(key, TimeSpan.Zero, allowInfinite: false);
        }
        catch (Exception e) when (e is FormatException or OverflowException or ConfigurationException or ArgumentException)
        {
            throw Invalid(key, value, "a duration such as 500ms, 30s, 2m or 1h");
        }

        return duration > TimeSpan.Zero ? duration : throw Invalid(key, value, "a positive duration such as 500ms, 30s, 2m or 1h");
    }

    /// <summary>Absent gives <paramref name="fallback"/>.</summary>
    public TimeSpan PositiveDuration(string key, TimeSpan fallback) => Raw(key) is null ? fallback : PositiveDuration(key);

    public IReadOnlyList<string> List(string key)
    {
        Origin.Consulted(Key(key));
        try
        {
            return _section.HasPath(key) ? [.. _section.GetStringList(key)] : [];
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new ConfigurationException($"Configuration key '{Key(key)}' must be a list such as [a, b] ({Origin.Of(Key(key))}).", e);
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
        value is null
            ? new($"Missing configuration key '{Key(key)}'; expected {expected} ({Origin.Of(Key(key))}){Misspelling(key)}.")
            : new($"Configuration key '{Key(key)}' is '{value}'; expected {expected} ({Origin.Of(Key(key))}).");

    /// <summary>A key of the section close to the missing <paramref name="key"/> (a typo of it), as a hint.</summary>
    private string Misspelling(string key)
    {
        var wanted = Key(key);
        var near = ConfigOrigin.Nearest(wanted, ConfigOrigin.Leaves(_section.Root, Path).Where(k => k != wanted));
        return near is null ? string.Empty : $"; the configuration has '{near}', a typo of it?";
    }

    /// <summary>
    /// Refuses the section's keys that nothing read, naming the nearest one that is read: a block of
    /// a list (a payload format, an account) or of a map of user-chosen names (a detector).
    /// </summary>
    public void RejectUnknownKeys(params string[] alsoAllowed)
    {
        var path = Path;
        var origin = Origin;
        var allowed = alsoAllowed.Select(k => $"{path}.{k}").ToHashSet(StringComparer.Ordinal);
        var unknown = ConfigOrigin.Leaves(_section.Root, path).Where(leaf => !allowed.Contains(leaf) && !origin.WasConsulted(leaf)).ToList();
        if (unknown.Count > 0)
        {
            var nearest = ConfigOrigin.Nearest(unknown[0], origin.ConsultedUnder(path).Concat(allowed));
            throw new ConfigurationException(
                $"Unknown configuration key '{unknown[0]}' ({origin.Of(unknown[0])}){(nearest is null ? string.Empty : $"; did you mean '{nearest}'?")}");
        }
    }

    private string? Raw(string key)
    {
        Origin.Consulted(Key(key));
        try
        {
            return _section.HasPath(key) ? _section.GetString(key, null) : null;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // An object or a list where a value belongs.
            throw new ConfigurationException($"Configuration key '{Key(key)}' must be a single value ({Origin.Of(Key(key))}).", e);
        }
    }
}
