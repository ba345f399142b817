using System.Globalization;

namespace AnomalyActors.Benchmarks.Nab;

/// <summary>Minimal <c>--name value</c> option parsing for the harness modes.</summary>
internal sealed class HarnessArgs
{
    private readonly Dictionary<string, string> _options = new(StringComparer.Ordinal);

    public HarnessArgs(string[] args)
    {
        for (var i = 0; i < args.Length; i++)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal))
            {
                throw new ArgumentException($"Unexpected argument '{args[i]}'.");
            }

            var hasValue = i + 1 < args.Length && !args[i + 1].StartsWith("--", StringComparison.Ordinal);
            _options[args[i][2..]] = hasValue ? args[++i] : "true";
        }
    }

    public string? Get(string name) => _options.GetValueOrDefault(name);

    public double? GetDouble(string name) =>
        _options.TryGetValue(name, out var v) ? double.Parse(v, CultureInfo.InvariantCulture) : null;

    public int? GetInt(string name) =>
        _options.TryGetValue(name, out var v) ? int.Parse(v, CultureInfo.InvariantCulture) : null;
}
