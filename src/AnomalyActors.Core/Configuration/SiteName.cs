using System.Text.RegularExpressions;

namespace AnomalyActors.Core.Configuration;

/// <summary>
/// What a site (data centre) may be called. A site's name is stamped on every record it produces, names
/// its topics on the global Kafka (<c>&lt;site&gt;.alerts</c>), keys its replication offsets
/// (<c>site|topic|partition</c>) and its directory in a shared archive; so it holds no '.', '|', '/' or
/// spaces, nothing a path or a topic name would read differently.
/// </summary>
public static partial class SiteName
{
    public const string Rule = "1-64 letters, digits, '_' or '-'";

    public static bool IsValid(string? name) => name is { Length: > 0 and <= 64 } && Allowed().IsMatch(name);

    [GeneratedRegex("^[A-Za-z0-9_-]+$")]
    private static partial Regex Allowed();
}
