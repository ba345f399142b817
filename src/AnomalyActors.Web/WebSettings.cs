using System.Net;
using Akka.Configuration;
using AnomalyActors.Core.Configuration;

namespace AnomalyActors.Web;

/// <summary>The <c>anomaly-actors.web</c> section, parsed once.</summary>
/// <param name="Address">Where the dashboard listens (loopback unless a token is configured).</param>
/// <param name="Port">0 for any free port.</param>
/// <param name="Token">What every request must present when set; required beyond loopback.</param>
/// <param name="RecentAlerts">How many alerts the dashboard keeps (the newest).</param>
/// <param name="SeriesPoints">How many of a watched stream's newest scored readings the sensor page can show.</param>
/// <param name="WatchedSensors">How many streams are watched at most.</param>
public sealed record WebSettings(bool Enabled, IPAddress Address, int Port, string? Token, int RecentAlerts, int SeriesPoints = 2000, int WatchedSensors = 200)
{
    public const string Path = "anomaly-actors.web";

    /// <summary>Shorter tokens are refused: anyone who can reach the port could guess them.</summary>
    public const int MinimumTokenLength = 24;

    public bool OnLoopback => IPAddress.IsLoopback(Address);

    public static WebSettings FromConfig(Config root, ConfigOrigin origin)
    {
        var c = new SettingsReader(root, Path, origin);
        var enabled = c.Flag("enabled", true);
        var host = c.Text("host");
        IPAddress address;
        if (string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase))
        {
            address = IPAddress.Loopback;
        }
        else if (!IPAddress.TryParse(host, out address!))
        {
            throw c.Invalid("host", host, "an IP address (127.0.0.1, ::1, 0.0.0.0 for every interface) or localhost");
        }

        var port = c.Port("port");
        var token = c.OptionalText("token");
        if (token is not null && (token.Length < MinimumTokenLength || token.Any(ch => ch <= ' ' || ch > '~')))
        {
            // The value is a secret: the message names the key, never the value.
            throw new ConfigurationException(
                $"Configuration key '{c.Key("token")}' must be at least {MinimumTokenLength} printable ASCII characters without spaces, e.g. from `openssl rand -hex 24` ({origin.Of(c.Key("token"))}).");
        }

        if (enabled && token is null && !IPAddress.IsLoopback(address))
        {
            throw new ConfigurationException(
                $"Configuration key '{c.Key("host")}' is {host}, beyond this machine, but '{c.Key("token")}' is empty: anyone on the network could read alerts and acknowledge them. " +
                $"Set a token (ANOMALY_ACTORS_WEB_TOKEN) or keep the dashboard on loopback behind a proxy ({origin.Of(c.Key("host"))}).");
        }

        return new WebSettings(enabled, address, port, token, c.Int("recent-alerts", 1, 100_000), c.Int("series-points", 10, 1_000_000), c.Int("watched-sensors", 1, 1_000_000));
    }
}
