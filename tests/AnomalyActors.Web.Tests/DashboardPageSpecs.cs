using AnomalyActors.Core.State;
using Microsoft.Playwright;
using Xunit;

namespace AnomalyActors.Web.Tests;

/// <summary>The page in a real browser: Debian's chromium, driven by Playwright, against a real server.</summary>
public sealed class DashboardPageSpecs
{
    private const string Chromium = "/usr/bin/chromium";
    private static readonly float Timeout = 20_000;

    [Fact]
    public async Task Should_show_a_new_alert_live_acknowledge_it_and_filter_by_severity()
    {
        Assert.True(File.Exists(Chromium), $"{Chromium} is missing: install Debian's chromium package (.ci/install-test-deps.sh does)");
        await using var dashboard = await DashboardHarness.StartAsync();
        dashboard.Board.Apply(DashboardHarness.Open("north/fan-1/rpm", 1, grade: 0.6));

        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = Chromium,
            Headless = true,
            // Root in CI containers: chromium's sandbox needs user namespaces it may not get there.
            Args = ["--no-sandbox"],
        });
        var page = await browser.NewPageAsync(new BrowserNewPageOptions { ViewportSize = new ViewportSize { Width = 1400, Height = 900 } });
        var consoleErrors = new List<string>();
        page.Console += (_, message) =>
        {
            if (message.Type == "error")
            {
                consoleErrors.Add(message.Text);
            }
        };
        page.PageError += (_, error) => consoleErrors.Add(error);
        page.Response += (_, response) =>
        {
            if (response.Status >= 400)
            {
                consoleErrors.Add($"{response.Status} {response.Url}");
            }
        };

        await page.GotoAsync(dashboard.Address.ToString());
        var connection = page.Locator("#connection");
        await Assertions.Expect(connection).ToHaveTextAsync("live", new() { Timeout = Timeout });
        await Assertions.Expect(page.Locator("tr[data-alert-id='north/fan-1/rpm#1']")).ToBeVisibleAsync(new() { Timeout = Timeout });

        // No reload: the row arrives over the event stream.
        dashboard.Board.Apply(DashboardHarness.Open("south/fan-2/rpm", 1, grade: 0.95));
        var critical = page.Locator("tr[data-alert-id='south/fan-2/rpm#1']");
        await Assertions.Expect(critical).ToBeVisibleAsync(new() { Timeout = Timeout });
        await Assertions.Expect(critical.Locator("td.severity")).ToHaveTextAsync("critical");
        await Assertions.Expect(page.Locator("[data-severity='critical']")).ToHaveTextAsync("1");
        await Assertions.Expect(page.Locator("#open-count")).ToHaveTextAsync("2");

        dashboard.Board.Apply(DashboardHarness.Close("south/fan-2/rpm", 1));
        await Assertions.Expect(critical.Locator("td.state")).ToHaveTextAsync("closed", new() { Timeout = Timeout });
        await Assertions.Expect(page.Locator("#open-count")).ToHaveTextAsync("1");

        await critical.Locator("button.ack").ClickAsync();
        await Assertions.Expect(critical.Locator("td.acked")).ToHaveTextAsync("acknowledged by dashboard", new() { Timeout = Timeout });
        Assert.Equal("dashboard", dashboard.Board.Find("south/fan-2/rpm#1")!.AcknowledgedBy);

        await page.Locator("select[name='severity']").SelectOptionAsync("major");
        await Assertions.Expect(page.Locator("tbody#alerts tr")).ToHaveCountAsync(1);
        await Assertions.Expect(page.Locator("tr[data-alert-id='north/fan-1/rpm#1']")).ToBeVisibleAsync();
        await page.Locator("select[name='severity']").SelectOptionAsync("");
        await page.Locator("select[name='site']").SelectOptionAsync("south");
        await Assertions.Expect(page.Locator("tbody#alerts tr")).ToHaveCountAsync(1);
        await Assertions.Expect(critical).ToBeVisibleAsync();

        await Assertions.Expect(page.Locator("#op-site")).ToHaveTextAsync("test-site", new() { Timeout = Timeout });
        await Assertions.Expect(page.Locator("#per-minute canvas")).ToHaveCountAsync(1);
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Screenshot("dashboard.png"), FullPage = true });
        Assert.Empty(consoleErrors);
    }

    [Fact]
    public async Task Should_draw_a_sensors_value_and_band_live_with_its_episode()
    {
        Assert.True(File.Exists(Chromium), $"{Chromium} is missing: install Debian's chromium package (.ci/install-test-deps.sh does)");
        await using var dashboard = await DashboardHarness.StartAsync();
        const string sensor = "north/fan-1/rpm";
        dashboard.Board.Apply(DashboardHarness.Open(sensor, 1, grade: 0.95));
        dashboard.Series.Watch(sensor);
        var start = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - 300_000;
        var offset = 0L;
        ScoredReading Next(double value, long episode) =>
            new(++offset, start + offset * 1000, value, 20, 18, 22, episode > 0 ? 0.95 : 0.1, episode > 0, episode);
        dashboard.Series.Record(sensor, [.. Enumerable.Range(0, 120).Select(i => Next(20 + Math.Sin(i / 5.0), 0))]);

        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions { ExecutablePath = Chromium, Headless = true, Args = ["--no-sandbox"] });
        var page = await browser.NewPageAsync(new BrowserNewPageOptions { ViewportSize = new ViewportSize { Width = 1400, Height = 1000 } });
        var errors = new List<string>();
        page.PageError += (_, error) => errors.Add(error);
        page.Console += (_, message) =>
        {
            if (message.Type == "error")
            {
                errors.Add(message.Text);
            }
        };

        // From the alert's row to the sensor's page, as an operator goes.
        await page.GotoAsync(dashboard.Address.ToString());
        await page.Locator($"tr[data-alert-id='{sensor}#1'] a").ClickAsync();
        await Assertions.Expect(page.Locator("#sensor-id")).ToHaveTextAsync(sensor, new() { Timeout = Timeout });
        await Assertions.Expect(page.Locator("#point-count")).ToHaveTextAsync("120", new() { Timeout = Timeout });
        await Assertions.Expect(page.Locator("#connection")).ToHaveTextAsync("live", new() { Timeout = Timeout });

        // New readings, an episode among them, arrive without a reload.
        dashboard.Series.Record(sensor, [.. Enumerable.Range(0, 10).Select(_ => Next(60, 1)), .. Enumerable.Range(0, 20).Select(_ => Next(20, 0))]);
        await Assertions.Expect(page.Locator("#point-count")).ToHaveTextAsync("150", new() { Timeout = Timeout });
        await Assertions.Expect(page.Locator("#latest-value")).ToHaveTextAsync("20.0000");
        await Assertions.Expect(page.Locator("#series-chart canvas")).ToHaveCountAsync(1);
        await Assertions.Expect(page.Locator("#score-chart canvas")).ToHaveCountAsync(1);
        await Assertions.Expect(page.Locator("#histogram-chart canvas")).ToHaveCountAsync(1);
        await Assertions.Expect(page.Locator("#series-chart .u-legend")).ToContainTextAsync("prediction");
        await Assertions.Expect(page.Locator("#sensor-alerts tr")).ToHaveCountAsync(1);

        // The chart drew the band (grey), the value (blue) and the shaded episode (red) in its canvas
        // (a transparent canvas: colours as drawn, with their own alpha).
        var colours = await page.EvaluateAsync<string[]>(@"() => {
            const canvas = document.querySelector('#series-chart canvas');
            const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
            const seen = new Set();
            for (let i = 0; i < data.length; i += 4) {
                const [r, g, b, a] = [data[i], data[i + 1], data[i + 2], data[i + 3]];
                if (a === 0) continue;
                if (b > 150 && r < 80) seen.add('value');
                if (r > 150 && g < 80 && b < 80) seen.add('episode');
                if (Math.abs(r - g) < 12 && Math.abs(g - b) < 16 && r > 90 && r < 140) seen.add('band');
            }
            return [...seen].sort();
        }");
        Assert.Equal(["band", "episode", "value"], colours);
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Screenshot("sensor.png"), FullPage = true });
        Assert.Empty(errors);
    }

    /// <summary>Screenshots go to screenshots/ in the test output folder (kept by CI), or to ANOMALY_ACTORS_SCREENSHOTS.</summary>
    private static string Screenshot(string name)
    {
        var directory = Environment.GetEnvironmentVariable("ANOMALY_ACTORS_SCREENSHOTS") is { Length: > 0 } chosen
            ? chosen
            : Path.Combine(AppContext.BaseDirectory, "screenshots");
        Directory.CreateDirectory(directory);
        return Path.Combine(directory, name);
    }
}
