using Akka.Configuration;
using AnomalyActors.Core.Configuration;
using Xunit;

namespace AnomalyActors.Notifications.Tests;

public sealed class NotificationSettingsSpecs
{
    private static NotificationSettings Parse(string hocon) =>
        NotificationSettings.FromConfig(ConfigurationFactory.ParseString(hocon), new ConfigOrigin("test.conf"));

    [Fact]
    public void Should_read_channels_routes_and_silences()
    {
        Environment.SetEnvironmentVariable("TEST_HOOK_TOKEN", "token-from-the-environment");
        var settings = Parse("""
            anomaly-actors.notifications {
              channels {
                ops-hook { type = webhook, url = "http://127.0.0.1:9095/hook", bearer-token-env = TEST_HOOK_TOKEN }
                ops-mail { type = email, smtp-host = "127.0.0.1", smtp-port = 25, tls = none, from = "aa@example.com", to = ["ops@example.com"] }
              }
              routes = [
                { name = critical-dc1, match = "dc1/*/*", min-severity = critical, channels = [ops-hook, ops-mail], group-by = [site, device], group-wait = 5s, repeat-interval = 1h }
                { channels = [ops-mail] }
              ]
              silences = [
                { match = "dc1/boiler-*/*", until = "2026-12-31T06:00:00Z", comment = "boiler replacement" }
                { weekly = "sat-sun 02:00-04:00", comment = "weekend maintenance" }
              ]
            }
            """);

        Assert.True(settings.Enabled);
        Assert.Equal(["ops-hook", "ops-mail"], settings.Channels.Select(c => c.Name).Order());
        Assert.Equal("token-from-the-environment", settings.Channels.OfType<WebhookSettings>().Single().BearerToken);
        Assert.Equal(SmtpTls.None, settings.Channels.OfType<EmailSettings>().Single().Tls);
        var route = settings.Routes[0];
        Assert.Equal(("critical-dc1", 2, TimeSpan.FromSeconds(5), TimeSpan.FromHours(1)), (route.Name, route.MinSeverity, route.GroupWait, route.RepeatInterval));
        Assert.Equal(["site", "device"], route.GroupBy);
        Assert.True(route.Match.IsMatch("dc1/fan/rpm"));
        Assert.False(route.Match.IsMatch("dc2/fan/rpm"));
        Assert.Equal(("route-1", 0), (settings.Routes[1].Name, settings.Routes[1].MinSeverity));
        Assert.Equal(["site"], settings.Routes[1].GroupBy);
        Assert.True(settings.Silences[0].Silences("dc1/boiler-7/temp", new DateTimeOffset(2026, 12, 30, 0, 0, 0, TimeSpan.Zero)));
        Assert.False(settings.Silences[0].Silences("dc1/boiler-7/temp", new DateTimeOffset(2026, 12, 31, 6, 0, 0, TimeSpan.Zero)));
        Assert.True(settings.Silences[1].Silences("x/y/z", new DateTimeOffset(2026, 12, 6, 3, 0, 0, TimeSpan.Zero)));
        Assert.False(settings.Silences[1].Silences("x/y/z", new DateTimeOffset(2026, 12, 6, 4, 0, 0, TimeSpan.Zero)));
        Assert.False(settings.Silences[1].Silences("x/y/z", new DateTimeOffset(2026, 12, 7, 3, 0, 0, TimeSpan.Zero)));
    }

    [Theory]
    [InlineData("routes = [ { channels = [nope] } ]", "names channel 'nope', but 'anomaly-actors.notifications.channels' has no such block")]
    [InlineData("silences = [ { match = \"*/*/*\" } ]", "an expiry ('until') or a recurring window ('weekly')")]
    [InlineData("silences = [ { weekly = \"someday 02:00-04:00\" } ]", "'anomaly-actors.notifications.silences[0].weekly' is 'someday 02:00-04:00'")]
    [InlineData("channels { x { type = pager } }", "'anomaly-actors.notifications.channels.x.type' is 'pager'; expected webhook or email")]
    [InlineData("channels { x { type = webhook, url = \"ftp://h/\" } }", "expected an http:// or https:// address")]
    [InlineData("channels { x { type = webhook, url = \"http://h/\", bearer-token-env = TEST_UNSET_VARIABLE_4711 } }", "names the environment variable TEST_UNSET_VARIABLE_4711, which is not set")]
    [InlineData("channels { x { type = webhook, url = \"http://h/\" } }\nroutes = [ { channels = [x], min-severity = urgent } ]", "'anomaly-actors.notifications.routes[0].min-severity' is 'urgent'")]
    [InlineData("channels { x { type = webhook, url = \"http://h/\" } }\nroutes = [ { channels = [x], grup-by = [site] } ]", "Unknown configuration key 'anomaly-actors.notifications.routes[0].grup-by'")]
    public void Should_refuse_a_bad_block_naming_its_key(string body, string expected)
    {
        var error = Assert.Throws<ConfigurationException>(() => Parse($"anomaly-actors.notifications {{\n{body}\n}}"));
        Assert.Contains(expected, error.Message);
    }

    [Theory]
    [InlineData("mon-fri 22:00-23:30", "2026-12-07T22:30:00Z", true)]
    [InlineData("mon-fri 22:00-23:30", "2026-12-06T22:30:00Z", false)]
    [InlineData("fri-mon 00:00-01:00", "2026-12-06T00:30:00Z", true)]
    [InlineData("sun,wed 10:00-11:00", "2026-12-09T10:59:00Z", true)]
    [InlineData("sun,wed 10:00-11:00", "2026-12-09T11:00:00Z", false)]
    public void Should_tell_whether_a_time_is_in_a_weekly_window(string window, string at, bool inside)
    {
        Assert.True(WeeklyWindow.TryParse(window, out var parsed));
        Assert.Equal(inside, parsed.Contains(DateTimeOffset.Parse(at, System.Globalization.CultureInfo.InvariantCulture)));
    }
}
