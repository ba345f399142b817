using Akka.Configuration;
using Akka.Configuration.Hocon;

namespace AnomalyActors.Core.Configuration;

/// <summary>
/// Where a configuration came from, key by key (an environment variable, an override such as a
/// command-line option, or the file), so an error names what the operator has to change; and which
/// keys the settings readers consulted, so a key nobody reads (a typo) is found.
/// </summary>
public sealed class ConfigOrigin
{
    private readonly IReadOnlyDictionary<string, string> _environment;
    private readonly IReadOnlySet<string> _overridden;
    private readonly HashSet<string> _consulted = new(StringComparer.Ordinal);
    private readonly string _akkaFile;

    /// <param name="file">The configuration file.</param>
    /// <param name="environment">Keys set from environment variables, with the variable's name.</param>
    /// <param name="overridden">Keys set by overrides (command-line options, a program's own settings).</param>
    /// <param name="akkaFile">The file Akka's own keys (<c>akka.*</c>) come from, when it is another one.</param>
    public ConfigOrigin(string file, IReadOnlyDictionary<string, string>? environment = null, IReadOnlySet<string>? overridden = null, string? akkaFile = null)
    {
        File = file;
        _akkaFile = akkaFile ?? file;
        _environment = environment ?? new Dictionary<string, string>();
        _overridden = overridden ?? new HashSet<string>();
    }

    public string File { get; }

    public static implicit operator ConfigOrigin(string file) => new(file);

    /// <summary>Where the value of <paramref name="key"/> came from, for an error message.</summary>
    public string Of(string key) =>
        _overridden.Contains(key) ? $"set by an override such as a command-line option; file {File}"
        : _environment.TryGetValue(key, out var variable) ? $"set by the environment variable {variable}"
        : key.StartsWith("akka.", StringComparison.Ordinal) ? _akkaFile
        : File;

    public void Consulted(string key)
    {
        lock (_consulted)
        {
            _consulted.Add(key);
        }
    }

    public bool WasConsulted(string key)
    {
        lock (_consulted)
        {
            return _consulted.Contains(key);
        }
    }

    /// <summary>The consulted keys under <paramref name="path"/>.</summary>
    public string[] ConsultedUnder(string path)
    {
        lock (_consulted)
        {
            return _consulted.Where(k => k.StartsWith(path + ".", StringComparison.Ordinal)).ToArray();
        }
    }

    /// <summary>
    /// Refuses keys under <paramref name="path"/> that no settings reader consulted, naming the nearest
    /// known key. Keys under <paramref name="openSections"/> (maps of names the user chooses) are not
    /// checked here.
    /// </summary>
    public void RejectUnknownKeys(Config config, string path, IReadOnlyCollection<string> openSections)
    {
        var section = config.GetConfig(path);
        if (section is null || section.IsEmpty)
        {
            return;
        }

        string[] known;
        lock (_consulted)
        {
            known = [.. _consulted];
        }

        var unknown = new List<string>();
        foreach (var leaf in Leaves(section.Root, path))
        {
            if (known.Contains(leaf) || openSections.Any(open => leaf.StartsWith(open + ".", StringComparison.Ordinal)))
            {
                continue;
            }

            unknown.Add(leaf);
        }

        if (unknown.Count > 0)
        {
            var first = unknown[0];
            var nearest = Nearest(first, known);
            throw new ConfigurationException(
                $"Unknown configuration key '{first}' ({Of(first)}){(nearest is null ? string.Empty : $"; did you mean '{nearest}'?")}" +
                (unknown.Count > 1 ? $" Also unknown: {string.Join(", ", unknown.Skip(1).Take(5))}." : string.Empty));
        }
    }

    /// <summary>Every key with a value (not an object) under <paramref name="value"/>, as full paths.</summary>
    public static IEnumerable<string> Leaves(HoconValue value, string path)
    {
        if (!value.IsObject())
        {
            yield return path;
            yield break;
        }

        foreach (var (key, child) in value.GetObject().Items)
        {
            foreach (var leaf in Leaves(child, $"{path}.{key}"))
            {
                yield return leaf;
            }
        }
    }

    /// <summary>The known key closest to <paramref name="key"/> by edit distance, if it is close enough to be a typo.</summary>
    public static string? Nearest(string key, IEnumerable<string> known)
    {
        var name = key[(key.LastIndexOf('.') + 1)..];
        var parent = key.LastIndexOf('.') is var dot and > 0 ? key[..dot] : string.Empty;
        string? best = null;
        var bestDistance = int.MaxValue;
        foreach (var candidate in known)
        {
            // Siblings first: a misspelled name sits where the right one would.
            var d = candidate.LastIndexOf('.');
            var sameParent = d > 0 && candidate[..d] == parent;
            var distance = sameParent ? Distance(name, candidate[(d + 1)..]) : Distance(key, candidate) + 2;
            if (distance < bestDistance)
            {
                bestDistance = distance;
                best = candidate;
            }
        }

        return bestDistance <= Math.Max(2, name.Length / 3) ? best : null;
    }

    private static int Distance(string a, string b)
    {
        var previous = new int[b.Length + 1];
        var current = new int[b.Length + 1];
        for (var j = 0; j <= b.Length; j++)
        {
            previous[j] = j;
        }

        for (var i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (var j = 1; j <= b.Length; j++)
            {
                var cost = a[i - 1] == b[j - 1] ? 0 : 1;
                current[j] = Math.Min(Math.Min(current[j - 1] + 1, previous[j] + 1), previous[j - 1] + cost);
            }

            (previous, current) = (current, previous);
        }

        return previous[b.Length];
    }

    public override string ToString() => File;
}
