using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace AnomalyActors.Cli;

/// <summary>
/// <c>alerts</c>: the most recent alerts a running dashboard shows, with its counts by site and
/// severity and, on the global layer, each site link's health: the global view from the command line
/// (a site's node answers the same way for its own alerts). It reads the dashboard's JSON API, so it
/// needs nothing but the dashboard's address (and its token, where one is set).
/// </summary>
internal static class AlertsCommand
{
    public static readonly CommandSpec Spec = new(
        "alerts",
        "Show the most recent alerts of a running dashboard (the global layer's: every site's), with counts per site and severity and each site link's health.",
        null,
        null,
        [
            new("url", "URL", "The dashboard, e.g. http://127.0.0.1:8686 (default)."),
            new("site", "SITE", "Only this site's alerts."),
            new("severity", "critical|major|minor|cleared", "Only alerts of this severity."),
            new("state", "open|close", "Only open (or closed) alerts."),
            new("limit", "N", "At most this many alerts, newest first (default 20, at most 1000)."),
            new("token", "TOKEN", "The dashboard's token where it has one (default: ANOMALY_ACTORS_WEB_TOKEN)."),
            new("json", null, "Print the dashboard's answer as JSON: {\"alerts\": ..., \"replication\": [...]}."),
        ]);

    public static async Task<int> ExecuteAsync(ParsedArguments args, CancellationToken stopping)
    {
        var url = args.Text("url", "http://127.0.0.1:8686");
        if (!Uri.TryCreate(url, UriKind.Absolute, out var address) || address.Scheme is not ("http" or "https"))
        {
            throw new UsageException($"--url must be a dashboard's http(s) address, not '{url}'");
        }

        var query = new StringBuilder($"/api/alerts?limit={args.Int("limit", 20, minimum: 1, maximum: 1000).ToString(CultureInfo.InvariantCulture)}");
        foreach (var filter in new[] { "site", "severity", "state" })
        {
            if (args.Text(filter) is { } value)
            {
                query.Append(CultureInfo.InvariantCulture, $"&{filter}={Uri.EscapeDataString(value)}");
            }
        }

        using var http = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(10) };
        if ((args.Text("token") ?? Environment.GetEnvironmentVariable("ANOMALY_ACTORS_WEB_TOKEN")) is { Length: > 0 } token)
        {
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        JsonElement alerts;
        JsonElement operations;
        try
        {
            alerts = await GetAsync(http, query.ToString(), stopping).ConfigureAwait(false);
            operations = await GetAsync(http, "/api/operations", stopping).ConfigureAwait(false);
        }
        catch (HttpRequestException e)
        {
            await Console.Error.WriteLineAsync($"anomaly-actors alerts: {address} did not answer as a dashboard ({(e.StatusCode is { } code ? $"HTTP {(int)code} {code}" : e.Message)}){(e.StatusCode == HttpStatusCode.Unauthorized ? "; give its token with --token or ANOMALY_ACTORS_WEB_TOKEN" : string.Empty)}").ConfigureAwait(false);
            return ExitCodes.Failure;
        }
        catch (Exception e) when (e is TaskCanceledException or JsonException)
        {
            await Console.Error.WriteLineAsync($"anomaly-actors alerts: no dashboard answer from {address} ({e.Message})").ConfigureAwait(false);
            return ExitCodes.Failure;
        }

        var replication = operations.TryGetProperty("replication", out var links) && links.ValueKind == JsonValueKind.Array ? links : default;
        if (args.Flag("json"))
        {
            Console.WriteLine(JsonSerializer.Serialize(new { alerts, replication = replication.ValueKind == JsonValueKind.Array ? replication : JsonDocument.Parse("[]").RootElement }));
            return ExitCodes.Ok;
        }

        Console.Out.Write(Table(alerts, replication));
        return ExitCodes.Ok;
    }

    private static async Task<JsonElement> GetAsync(HttpClient http, string path, CancellationToken stopping)
    {
        using var response = await http.GetAsync(path, stopping).ConfigureAwait(false);
        response.EnsureSuccessStatusCode();
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync(stopping).ConfigureAwait(false)).RootElement.Clone();
    }

    private static string Table(JsonElement answer, JsonElement replication)
    {
        var text = new StringBuilder();
        var counts = answer.GetProperty("counts");
        string Pairs(string name) => string.Join(", ", counts.GetProperty(name).EnumerateObject().Select(p => $"{p.Name} {p.Value.GetInt32()}"));
        text.AppendLine(CultureInfo.InvariantCulture,
            $"{counts.GetProperty("total").GetInt32()} alerts on the board ({Pairs("bySeverity")}); open: {Pairs("openBySeverity")}; unacknowledged {counts.GetProperty("unacknowledged").GetInt32()}; sites: {string.Join(", ", counts.GetProperty("sites").EnumerateArray().Select(s => s.GetString()))}");
        if (replication.ValueKind == JsonValueKind.Array)
        {
            foreach (var link in replication.EnumerateArray())
            {
                text.AppendLine(CultureInfo.InvariantCulture,
                    $"link {link.GetProperty("site").GetString()}: {(link.GetProperty("reachable").GetBoolean() ? "reachable" : "UNREACHABLE")}, {link.GetProperty("lagRecords").GetInt64():N0} records behind ({link.GetProperty("lagSeconds").GetDouble():0} s), {link.GetProperty("replicated").GetInt64():N0} copied{(link.GetProperty("lostRecords").GetInt64() is > 0 and var lost ? $", {lost:N0} LOST" : string.Empty)}");
            }
        }

        var rows = answer.GetProperty("alerts").EnumerateArray().ToList();
        if (rows.Count == 0)
        {
            text.AppendLine("No alerts match.");
            return text.ToString();
        }

        text.AppendLine();
        text.AppendLine(CultureInfo.InvariantCulture, $"{"opened (UTC)",-20} {"site",-10} {"device",-16} {"metric",-12} {"state",-6} {"severity",-9} {"grade",5}  alert id");
        foreach (var row in rows)
        {
            var opened = row.TryGetProperty("openedMs", out var ms) && ms.ValueKind == JsonValueKind.Number
                ? DateTimeOffset.FromUnixTimeMilliseconds(ms.GetInt64()).ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture)
                : "-";
            var grade = row.TryGetProperty("grade", out var g) && g.ValueKind == JsonValueKind.Number ? g.GetDouble().ToString("0.00", CultureInfo.InvariantCulture) : "-";
            text.AppendLine(CultureInfo.InvariantCulture,
                $"{opened,-20} {row.GetProperty("site").GetString(),-10} {row.GetProperty("device").GetString(),-16} {row.GetProperty("metric").GetString(),-12} {row.GetProperty("state").GetString(),-6} {row.GetProperty("severity").GetString(),-9} {grade,5}  {row.GetProperty("alertId").GetString()}");
        }

        return text.ToString();
    }
}
