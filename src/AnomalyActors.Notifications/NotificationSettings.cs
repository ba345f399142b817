using System.Globalization;
using Akka.Configuration;
using Akka.Configuration.Hocon;
using AnomalyActors.Core.Configuration;
using AnomalyActors.Core.Protocol;

namespace AnomalyActors.Notifications;

/// <summary>The <c>anomaly-actors.notifications</c> section, parsed and checked once.</summary>
public sealed record NotificationSettings(
    IReadOnlyList<ChannelSettings> Channels,
    IReadOnlyList<Route> Routes,
    IReadOnlyList<Silence> Silences,
    TimeSpan MinBackoff,
    TimeSpan MaxBackoff,
    int MaxPendingPerChannel,
    TimeSpan LogRetention)
{
    /// <summary>How long the log remembers a delivered change by default: far beyond any crash's replay of an alert.</summary>
    public static readonly TimeSpan DefaultLogRetention = TimeSpan.FromDays(7);

    public const string Path = "anomaly-actors.notifications";

    /// <summary>Nothing to send: no route.</summary>
    public bool Enabled => Routes.Count > 0;

    public static NotificationSettings FromConfig(Config root, ConfigOrigin origin)
    {
        var c = new SettingsReader(root, Path, origin);
        var channels = new List<ChannelSettings>();
        c.Has("channels");
        if (c.Section.HasPath("channels"))
        {
            foreach (var (name, _) in c.Section.GetConfig("channels").AsEnumerable().Select(e => (e.Key.Split('.')[0], 0)).Distinct())
            {
                var block = c.Child($"channels.{name}");
                channels.Add(ChannelOf(name, block));
            }
        }

        var routes = new List<Route>();
        var i = 0;
        foreach (var block in c.Blocks("routes"))
        {
            var key = $"{c.Key("routes")}[{i}]";
            var names = block.List("channels");
            if (names.Count == 0)
            {
                throw block.Invalid("channels", "[]", "at least one channel name");
            }

            foreach (var channel in names.Where(n => channels.All(ch => ch.Name != n)))
            {
                throw new ConfigurationException($"'{block.Key("channels")}' names channel '{channel}', but '{c.Key("channels")}' has no such block; it has {(channels.Count == 0 ? "none" : string.Join(", ", channels.Select(ch => ch.Name)))} ({origin.Of(c.Key("channels"))}).");
            }

            var groupBy = block.Has("group-by") ? block.List("group-by") : ["site"];
            foreach (var label in groupBy.Where(l => l is not ("site" or "device" or "metric" or "severity" or "alert")))
            {
                throw block.Invalid("group-by", label, "site, device, metric, severity or alert");
            }

            routes.Add(new Route(
                block.OptionalText("name") ?? $"route-{i}",
                new StreamGlob(block.OptionalText("match") ?? "*/*/*"),
                block.Choice("min-severity", Severities, 0),
                names,
                groupBy,
                block.PositiveDuration("group-wait", TimeSpan.FromSeconds(10)),
                block.PositiveDuration("repeat-interval", TimeSpan.FromHours(4))));
            block.RejectUnknownKeys();
            i++;
        }

        var silences = new List<Silence>();
        i = 0;
        foreach (var block in c.Blocks("silences"))
        {
            DateTimeOffset? until = null;
            if (block.OptionalText("until") is { } text)
            {
                until = DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at)
                    ? at
                    : throw block.Invalid("until", text, "a time such as 2026-12-31T06:00:00Z");
            }

            WeeklyWindow? weekly = null;
            if (block.OptionalText("weekly") is { } window)
            {
                weekly = WeeklyWindow.TryParse(window, out var parsed) ? parsed : throw block.Invalid("weekly", window, "a weekly window in UTC such as \"sun 02:00-04:00\" or \"mon-fri 22:00-23:30\"");
            }

            if (until is null && weekly is null)
            {
                throw block.Invalid("until", null, "an expiry ('until') or a recurring window ('weekly'): a silence without either would silence forever");
            }

            silences.Add(new Silence(new StreamGlob(block.OptionalText("match") ?? "*/*/*"), until, weekly, block.OptionalText("comment") ?? string.Empty));
            block.RejectUnknownKeys();
            i++;
        }

        var settings = new NotificationSettings(
            channels,
            routes,
            silences,
            c.PositiveDuration("retry.min-backoff", TimeSpan.FromSeconds(1)),
            c.PositiveDuration("retry.max-backoff", TimeSpan.FromMinutes(5)),
            c.Int("max-pending-per-channel", 10_000, 1, 10_000_000),
            c.PositiveDuration("log-retention", DefaultLogRetention));
        return settings;
    }

    /// <summary>Severity names in order: a route's min-severity lets through that one and those above.</summary>
    public static readonly IReadOnlyDictionary<string, int> Severities = new Dictionary<string, int>(StringComparer.Ordinal)
    {
        ["minor"] = 0,
        ["major"] = 1,
        ["critical"] = 2,
    };

    private static ChannelSettings ChannelOf(string name, SettingsReader block)
    {
        var type = block.Text("type");
        ChannelSettings channel = type switch
        {
            "webhook" => new WebhookSettings(name, WebhookUri(block), block.PositiveDuration("timeout", TimeSpan.FromSeconds(10)), Secret(block, "bearer-token-env")),
            "email" => new EmailSettings(
                name,
                block.Text("smtp-host"),
                block.Int("smtp-port", 1, 65535),
                block.Choice("tls", new Dictionary<string, SmtpTls> { ["none"] = SmtpTls.None, ["starttls"] = SmtpTls.StartTls, ["tls"] = SmtpTls.Tls }, SmtpTls.StartTls),
                block.OptionalText("username"),
                Secret(block, "password-env"),
                block.Text("from"),
                block.List("to") is { Count: > 0 } to ? to : throw block.Invalid("to", "[]", "at least one address"),
                block.PositiveDuration("timeout", TimeSpan.FromSeconds(30))),
            _ => throw block.Invalid("type", type, "webhook or email"),
        };
        block.RejectUnknownKeys();
        return channel;
    }

    private static Uri WebhookUri(SettingsReader block)
    {
        var text = block.Text("url");
        return Uri.TryCreate(text, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https"
            ? uri
            : throw block.Invalid("url", text, "an http:// or https:// address");
    }

    /// <summary>Secrets come from the environment variable a key names, never from the files.</summary>
    private static string? Secret(SettingsReader block, string key)
    {
        if (block.OptionalText(key) is not { } variable)
        {
            return null;
        }

        return Environment.GetEnvironmentVariable(variable) is { Length: > 0 } value
            ? value
            : throw new ConfigurationException($"'{block.Key(key)}' names the environment variable {variable}, which is not set ({block.Origin.Of(block.Key(key))}).");
    }
}

/// <summary>Where notifications go.</summary>
public abstract record ChannelSettings(string Name);

/// <summary>An HTTP endpoint that takes Alertmanager's webhook JSON (version 4).</summary>
public sealed record WebhookSettings(string Name, Uri Url, TimeSpan Timeout, string? BearerToken) : ChannelSettings(Name);

public enum SmtpTls
{
    None,
    StartTls,
    Tls,
}

public sealed record EmailSettings(
    string Name,
    string SmtpHost,
    int SmtpPort,
    SmtpTls Tls,
    string? Username,
    string? Password,
    string From,
    IReadOnlyList<string> To,
    TimeSpan Timeout) : ChannelSettings(Name);

/// <summary>
/// Which alert changes go to which channels: streams matching <paramref name="Match"/> at
/// <paramref name="MinSeverity"/> or above, gathered per group (alerts sharing the
/// <paramref name="GroupBy"/> labels) for <paramref name="GroupWait"/>, then sent as one message;
/// an alert still open is sent again every <paramref name="RepeatInterval"/>.
/// </summary>
public sealed record Route(
    string Name,
    StreamGlob Match,
    int MinSeverity,
    IReadOnlyList<string> Channels,
    IReadOnlyList<string> GroupBy,
    TimeSpan GroupWait,
    TimeSpan RepeatInterval);

/// <summary>No notification for matching streams until <paramref name="Until"/>, or within a weekly window.</summary>
public sealed record Silence(StreamGlob Match, DateTimeOffset? Until, WeeklyWindow? Weekly, string Comment)
{
    public bool Silences(string streamKey, DateTimeOffset now) =>
        Match.IsMatch(streamKey)
        && (Until is not { } until || now < until)
        && (Weekly is not { } weekly || weekly.Contains(now));
}

/// <summary>Days of the week and a time span within each day, in UTC ("sat-sun 02:00-04:00").</summary>
public sealed record WeeklyWindow(IReadOnlySet<DayOfWeek> Days, TimeSpan From, TimeSpan To)
{
    private static readonly string[] DayNames = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

    public bool Contains(DateTimeOffset at)
    {
        var utc = at.UtcDateTime;
        return Days.Contains(utc.DayOfWeek) && utc.TimeOfDay >= From && utc.TimeOfDay < To;
    }

    public static bool TryParse(string text, out WeeklyWindow window)
    {
        window = null!;
        var parts = text.Trim().ToLowerInvariant().Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length != 2)
        {
            return false;
        }

        var days = new HashSet<DayOfWeek>();
        foreach (var item in parts[0].Split(','))
        {
            var range = item.Split('-');
            var first = Array.IndexOf(DayNames, range[0]);
            var last = range.Length == 2 ? Array.IndexOf(DayNames, range[1]) : first;
            if (range.Length > 2 || first < 0 || last < 0)
            {
                return false;
            }

            for (var d = first; ; d = (d + 1) % 7)
            {
                days.Add((DayOfWeek)d);
                if (d == last)
                {
                    break;
                }
            }
        }

        var times = parts[1].Split('-');
        if (times.Length != 2
            || !TimeSpan.TryParseExact(times[0], @"hh\:mm", CultureInfo.InvariantCulture, out var from)
            || !TimeSpan.TryParseExact(times[1], @"hh\:mm", CultureInfo.InvariantCulture, out var to)
            || to <= from)
        {
            return false;
        }

        window = new WeeklyWindow(days, from, to);
        return true;
    }
}
