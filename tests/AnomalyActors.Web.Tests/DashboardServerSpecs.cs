using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Xunit;

namespace AnomalyActors.Web.Tests;

public sealed class DashboardServerSpecs
{
    private const string Token = "0123456789abcdef0123456789abcdef";

    [Fact]
    public async Task Should_serve_recent_alerts_newest_first_with_filters_and_counts()
    {
        await using var dashboard = await DashboardHarness.StartAsync();
        dashboard.Board.Apply(DashboardHarness.Open("north/fan-1/rpm", 1, grade: 0.95));
        dashboard.Board.Apply(DashboardHarness.Open("south/fan-2/rpm", 1, grade: 0.6));
        dashboard.Board.Apply(DashboardHarness.Close("south/fan-2/rpm", 1));
        using var client = dashboard.Client();

        var all = await client.GetFromJsonAsync<JsonElement>("/api/alerts");
        Assert.Equal(["south/fan-2/rpm#1", "north/fan-1/rpm#1"], all.GetProperty("alerts").EnumerateArray().Select(a => a.GetProperty("alertId").GetString()));
        Assert.Equal(1, all.GetProperty("counts").GetProperty("bySeverity").GetProperty("critical").GetInt32());
        Assert.Equal(1, all.GetProperty("counts").GetProperty("openBySeverity").GetProperty("critical").GetInt32());

        var south = await client.GetFromJsonAsync<JsonElement>("/api/alerts?site=south&state=close&limit=5");
        var row = Assert.Single(south.GetProperty("alerts").EnumerateArray());
        Assert.Equal("major", row.GetProperty("severity").GetString());
        Assert.Equal(3, row.GetProperty("outOfBandReadings").GetInt64());

        Assert.Equal(HttpStatusCode.BadRequest, (await client.GetAsync("/api/alerts?limit=0")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await client.GetAsync("/api/alerts?limit=abc")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await client.GetAsync("/api/alerts?limit=1001")).StatusCode);
    }

    [Fact]
    public async Task Should_stream_every_changed_alert_as_a_server_sent_event()
    {
        await using var dashboard = await DashboardHarness.StartAsync();
        using var client = dashboard.Client();
        using var response = await client.GetAsync("/api/alerts/events", HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        Assert.Equal("retry: 2000", await reader.ReadLineAsync());

        // The stream is open once its first line arrived; the board's watcher registers with it.
        var events = new List<JsonElement>();
        var reading = Task.Run(async () =>
        {
            while (events.Count < 2 && await reader.ReadLineAsync() is { } line)
            {
                if (line.StartsWith("data: ", StringComparison.Ordinal))
                {
                    events.Add(JsonDocument.Parse(line["data: ".Length..]).RootElement.Clone());
                }
            }
        });
        var deadline = DateTime.UtcNow.AddSeconds(20);
        var episode = 0;
        while (events.Count == 0 && DateTime.UtcNow < deadline)
        {
            dashboard.Board.Apply(DashboardHarness.Open("s1/dev-1/temp", ++episode));
            await Task.WhenAny(reading, Task.Delay(100));
        }

        dashboard.Board.Apply(DashboardHarness.Close("s1/dev-1/temp", episode));
        await reading.WaitAsync(TimeSpan.FromSeconds(20));

        Assert.Equal("open", events[0].GetProperty("state").GetString());
        Assert.Equal($"s1/dev-1/temp#{episode}", events[^1].GetProperty("alertId").GetString());
        Assert.Equal("close", events[^1].GetProperty("state").GetString());
    }

    [Fact]
    public async Task Should_record_an_acknowledgement_that_survives_a_restart()
    {
        await using var dashboard = await DashboardHarness.StartAsync();
        var alert = DashboardHarness.Open("s1/dev-1/temp", 1);
        dashboard.Board.Apply(alert);
        using (var client = dashboard.Client())
        {
            var response = await client.PostAsync("/api/alerts/acknowledge", Json(new { alertId = "s1/dev-1/temp#1", by = "alice" }));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("alice", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("acknowledgedBy").GetString());

            // A form post (what another site's page could send through the browser) is refused.
            var form = await client.PostAsync("/api/alerts/acknowledge", new FormUrlEncodedContent([new("alertId", "s1/dev-1/temp#1"), new("by", "mallory")]));
            Assert.Equal(HttpStatusCode.UnsupportedMediaType, form.StatusCode);
            var unknown = await client.PostAsync("/api/alerts/acknowledge", Json(new { alertId = "nope#1" }));
            Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
            var nameless = await client.PostAsync("/api/alerts/acknowledge", Json(new { by = "bob" }));
            Assert.Equal(HttpStatusCode.BadRequest, nameless.StatusCode);
            var broken = await client.PostAsync("/api/alerts/acknowledge", new StringContent("{by", Encoding.UTF8, "application/json"));
            Assert.Equal(HttpStatusCode.BadRequest, broken.StatusCode);
        }

        await dashboard.RestartAsync(alert);

        using var again = dashboard.Client();
        var rows = await again.GetFromJsonAsync<JsonElement>("/api/alerts");
        Assert.Equal("alice", rows.GetProperty("alerts")[0].GetProperty("acknowledgedBy").GetString());
    }

    [Fact]
    public async Task Should_refuse_every_request_without_the_token_when_one_is_set()
    {
        await using var dashboard = await DashboardHarness.StartAsync(Token);
        dashboard.Board.Apply(DashboardHarness.Open("s1/dev-1/temp", 1));
        using var anonymous = dashboard.Client();
        foreach (var path in new[] { "/", "/api/alerts", "/api/alerts/events", "/api/operations", "/metrics", "/assets/app.js", "/?token=wrong" })
        {
            Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync(path, HttpCompletionOption.ResponseHeadersRead)).StatusCode);
        }

        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.PostAsync("/api/alerts/acknowledge", Json(new { alertId = "s1/dev-1/temp#1" }))).StatusCode);
        using var wrong = dashboard.Client(Token + "x");
        Assert.Equal(HttpStatusCode.Unauthorized, (await wrong.GetAsync("/api/alerts")).StatusCode);

        using var authorized = dashboard.Client(Token);
        Assert.Equal(HttpStatusCode.OK, (await authorized.GetAsync("/api/alerts")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await authorized.GetAsync("/metrics")).StatusCode);

        // The browser's way in: /?token= once sets a cookie its later requests carry.
        var cookies = new CookieContainer();
        using var browser = new HttpClient(new HttpClientHandler { CookieContainer = cookies, AllowAutoRedirect = false }) { BaseAddress = dashboard.Address };
        var landing = await browser.GetAsync($"/?token={Token}");
        Assert.Equal(HttpStatusCode.Redirect, landing.StatusCode);
        Assert.Contains("httponly", string.Join(";", landing.Headers.GetValues("Set-Cookie")), StringComparison.OrdinalIgnoreCase);
        Assert.Equal(HttpStatusCode.OK, (await browser.GetAsync("/api/alerts")).StatusCode);
    }

    [Fact]
    public async Task Should_refuse_requests_naming_another_host_without_a_token()
    {
        await using var dashboard = await DashboardHarness.StartAsync();
        using var client = dashboard.Client();
        using var rebound = new HttpRequestMessage(HttpMethod.Get, "/api/alerts");
        rebound.Headers.Host = "attacker.example:8686";
        Assert.Equal(HttpStatusCode.Forbidden, (await client.SendAsync(rebound)).StatusCode);

        using var local = new HttpRequestMessage(HttpMethod.Get, "/api/alerts");
        local.Headers.Host = $"localhost:{dashboard.Address.Port}";
        Assert.Equal(HttpStatusCode.OK, (await client.SendAsync(local)).StatusCode);
    }

    [Fact]
    public async Task Should_serve_the_page_and_its_vendored_chart_library_with_a_strict_content_policy()
    {
        await using var dashboard = await DashboardHarness.StartAsync();
        using var client = dashboard.Client();
        var page = await client.GetAsync("/");
        Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
        Assert.Contains("default-src 'self'", string.Join(";", page.Headers.GetValues("Content-Security-Policy")));
        var html = await page.Content.ReadAsStringAsync();
        Assert.Contains("/assets/vendor/uplot/uPlot.iife.min.js", html);
        Assert.DoesNotContain("http://", html.Replace("http://www.w3.org", string.Empty, StringComparison.Ordinal));
        Assert.DoesNotContain("https://", html);

        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/assets/vendor/uplot/uPlot.iife.min.js")).StatusCode);
        Assert.Contains("MIT", await client.GetStringAsync("/assets/vendor/uplot/LICENSE"));
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("/assets/../AnomalyActors.Web.dll")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("/assets/%2e%2e/%2e%2e/etc/passwd")).StatusCode);
    }

    [Fact]
    public async Task Should_show_the_operations_of_the_node()
    {
        await using var dashboard = await DashboardHarness.StartAsync();
        using var client = dashboard.Client();
        var operations = await client.GetFromJsonAsync<JsonElement>("/api/operations");
        Assert.Equal("test-site", operations.GetProperty("site").GetString());
        Assert.Equal(3, operations.GetProperty("deadLettersByReason").GetProperty("InvalidJson").GetInt64());
        Assert.Equal("Up", operations.GetProperty("members")[0].GetProperty("status").GetString());
    }

    [Fact]
    public async Task Should_watch_a_sensor_from_its_first_request_and_stream_its_new_readings()
    {
        await using var dashboard = await DashboardHarness.StartAsync();
        dashboard.Board.Apply(DashboardHarness.Open("s1/dev-1/temp", 1));
        using var client = dashboard.Client();

        var first = await client.GetFromJsonAsync<JsonElement>("/api/series?sensor=s1/dev-1/temp");
        Assert.Equal(0, first.GetProperty("points").GetProperty("ts").GetArrayLength());
        Assert.Equal("s1/dev-1/temp#1", first.GetProperty("alerts")[0].GetProperty("alertId").GetString());
        Assert.True(dashboard.Series.IsWatched("s1/dev-1/temp"));

        dashboard.Series.Record("s1/dev-1/temp", [new Core.State.ScoredReading(7, 1_700_000_000_000, 21.5, 20, 18, 22, 0.2, false, 0)]);
        var second = await client.GetFromJsonAsync<JsonElement>("/api/series?sensor=s1/dev-1/temp");
        Assert.Equal([21.5], second.GetProperty("points").GetProperty("value").EnumerateArray().Select(v => v.GetDouble()));
        Assert.Equal([7L], second.GetProperty("points").GetProperty("offset").EnumerateArray().Select(v => v.GetInt64()));

        using var response = await client.GetAsync("/api/series/events?sensor=s1/dev-1/temp", HttpCompletionOption.ResponseHeadersRead);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        Assert.Equal("retry: 2000", await reader.ReadLineAsync());
        var reading = Task.Run(async () =>
        {
            while (await reader.ReadLineAsync() is { } line)
            {
                if (line.StartsWith("data: ", StringComparison.Ordinal))
                {
                    return JsonDocument.Parse(line["data: ".Length..]).RootElement.Clone();
                }
            }

            throw new EndOfStreamException();
        });
        var offset = 7L;
        while (!reading.IsCompleted)
        {
            dashboard.Series.Record("s1/dev-1/temp", [new Core.State.ScoredReading(++offset, 1_700_000_000_000 + offset, 30, 20, 18, 22, 0.9, true, 1)]);
            await Task.WhenAny(reading, Task.Delay(100));
        }

        var points = await reading.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.True(points.GetProperty("anomaly")[0].GetBoolean());

        foreach (var bad in new[] { "", "?sensor=", "?sensor=onlyone", "?sensor=a/b/c/d", "?sensor=a//c", "?sensor=" + new string('x', 2000) })
        {
            Assert.Equal(HttpStatusCode.BadRequest, (await client.GetAsync("/api/series" + bad)).StatusCode);
            Assert.Equal(HttpStatusCode.BadRequest, (await client.GetAsync("/api/series/events" + bad)).StatusCode);
        }
    }

    [Fact]
    public void Should_refuse_a_listener_beyond_loopback_without_a_token_and_a_short_token()
    {
        var beyond = Assert.Throws<Akka.Configuration.ConfigurationException>(() => Settings("host = \"0.0.0.0\""));
        Assert.Contains("'anomaly-actors.web.host' is 0.0.0.0, beyond this machine, but 'anomaly-actors.web.token' is empty", beyond.Message);
        var shortToken = Assert.Throws<Akka.Configuration.ConfigurationException>(() => Settings("token = \"secret\""));
        Assert.Contains("'anomaly-actors.web.token' must be at least 24", shortToken.Message);
        Assert.DoesNotContain("secret", shortToken.Message.Replace("'anomaly-actors.web.token'", string.Empty, StringComparison.Ordinal));
        Assert.Throws<Akka.Configuration.ConfigurationException>(() => Settings("host = \"example.com\""));

        Assert.False(Settings($"host = \"0.0.0.0\", token = \"{Token}\"").OnLoopback);
        Assert.True(Settings("host = localhost").OnLoopback);
    }

    private static StringContent Json(object body) => new(JsonSerializer.Serialize(body), Encoding.UTF8, "application/json");

    private static WebSettings Settings(string web)
    {
        var config = Akka.Configuration.ConfigurationFactory.ParseString($"anomaly-actors.web {{ enabled = on, host = \"127.0.0.1\", port = 0, token = \"\", recent-alerts = 10, series-points = 100, watched-sensors = 10 }}\nanomaly-actors.web {{ {web} }}");
        return WebSettings.FromConfig(config, new Core.Configuration.ConfigOrigin("test"));
    }
}
