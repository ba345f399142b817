using System.Text.RegularExpressions;

namespace AnomalyActors.Core.Protocol;

/// <summary>
/// A glob over stream keys (<c>site/device/metric</c>): '*' matches any run of characters within one
/// part, '?' one character; '/' only matches itself. "dc1/*/temp*" matches every temperature-like
/// metric of every device of site dc1.
/// </summary>
public sealed class StreamGlob
{
    private readonly Regex _regex;

    public StreamGlob(string pattern)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(pattern);
        Pattern = pattern;
        var escaped = Regex.Escape(pattern).Replace("\\*", "[^/]*", StringComparison.Ordinal).Replace("\\?", "[^/]", StringComparison.Ordinal);
        _regex = new Regex("^" + escaped + "$", RegexOptions.CultureInvariant | RegexOptions.Compiled);
    }

    public string Pattern { get; }

    public bool IsMatch(string streamKey) => _regex.IsMatch(streamKey);

    public override string ToString() => Pattern;
}
