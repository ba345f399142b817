using System.Globalization;
using System.Net;
using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using AnomalyActors.Core.Protocol;
using AnomalyActors.Web.Alerts;
using AnomalyActors.Web.Series;
using AnomalyActors.Web.Metrics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace AnomalyActors.Web;

/// <summary>
/// The node's web endpoint: the dashboard page, its JSON API (alerts, live alert events, the
/// operations summary, acknowledgements) and <c>/metrics</c>. Kestrel alone, with no configuration
/// of its own: everything comes from <see cref="WebSettings"/>. With a token every request must
/// carry it (a bearer header, or the cookie the page sets from <c>/?token=...</c>); without one only
/// loopback is allowed, and requests naming another host are refused, so a web page elsewhere cannot
/// reach the dashboard through a rebound DNS name.
/// </summary>
public sealed class DashboardServer : IAsyncDisposable
{
    /// <summary>How often an idle event stream sends a comment, so proxies and browsers keep it open.</summary>
    public static readonly TimeSpan KeepAlive = TimeSpan.FromSeconds(15);

    private const string TokenCookie = "anomaly_actors_token";
    private const int MaxLimit = 1000;

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private readonly WebApplication _app;

    private DashboardServer(WebApplication app, Uri address)
    {
        _app = app;
        Address = address;
    }

    /// <summary>Where the dashboard is served (the bound port when the settings say 0).</summary>
    public Uri Address { get; }

    /// <exception cref="IOException">The address is taken or cannot be bound.</exception>
    public static async Task<DashboardServer> StartAsync(WebSettings settings, DashboardSources sources)
    {
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions { ApplicationName = typeof(DashboardServer).Assembly.GetName().Name });
        builder.WebHost.UseKestrelCore().ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxRequestBodySize = 16 * 1024;
            kestrel.Limits.MaxRequestHeadersTotalSize = 32 * 1024;
            // Every open page holds an event stream; a runaway client cannot take every socket.
            kestrel.Limits.MaxConcurrentConnections = 512;
            kestrel.Listen(settings.Address, settings.Port);
        });
        builder.Services.AddRoutingCore();
        var app = builder.Build();
        app.Use(Guard(settings));
        Map(app, settings, sources);
        await app.StartAsync().ConfigureAwait(false);
        var bound = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        var port = new Uri(bound).Port;
        var host = settings.Address.Equals(IPAddress.Any) ? "127.0.0.1" : settings.Address.Equals(IPAddress.IPv6Any) ? "[::1]" : settings.Address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{settings.Address}]" : settings.Address.ToString();
        return new DashboardServer(app, new Uri($"http://{host}:{port.ToString(CultureInfo.InvariantCulture)}/"));
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
    }

    private static void Map(WebApplication app, WebSettings settings, DashboardSources sources)
    {
        var (board, acknowledgements, series, metrics, operations) = sources;
        var stopping = app.Lifetime.ApplicationStopping;
        app.MapGet("/", (HttpContext context) =>
        {
            // Opening /?token=... once leaves the token in a cookie the page's own requests carry.
            if (settings.Token is not null && context.Request.Query["token"].FirstOrDefault() is { } token && Matches(token, settings.Token))
            {
                context.Response.Cookies.Append(TokenCookie, token, new CookieOptions { HttpOnly = true, SameSite = SameSiteMode.Strict, Path = "/" });
                return Results.Redirect("/");
            }

            return Asset("index.html");
        });
        app.MapGet("/sensor", () => Asset("sensor.html"));
        app.MapGet("/assets/{*file}", (string file) => Asset(file));

        app.MapGet("/api/alerts", (HttpContext context) =>
        {
            var query = context.Request.Query;
            if (!TryLimit(query["limit"].FirstOrDefault(), out var limit))
            {
                return Results.Problem($"limit must be a whole number from 1 to {MaxLimit}", statusCode: 400);
            }

            var filter = new AlertFilter(Value(query["site"]), Value(query["severity"]), Value(query["state"]), Value(query["device"]), Value(query["metric"]));
            return Results.Json(new { counts = board.Counts(), alerts = board.Recent(filter, limit) }, Json);
        });
        app.MapGet("/api/alerts/events", (HttpContext context) =>
            StreamEventsAsync(context, stopping, ending => board.WatchAsync(1024, ending), "alert", row => row));
        app.MapPost("/api/alerts/acknowledge", async (HttpContext context) =>
        {
            // A JSON body needs a CORS preflight, which this server never grants, so a page of
            // another origin cannot acknowledge alerts through the operator's browser.
            if (!string.Equals(context.Request.ContentType?.Split(';')[0].Trim(), "application/json", StringComparison.OrdinalIgnoreCase))
            {
                return Results.Problem("expected a JSON body: {\"alertId\": \"...\", \"by\": \"name\"}", statusCode: 415);
            }

            string? alertId = null;
            string? by = null;
            try
            {
                using var body = await JsonDocument.ParseAsync(context.Request.Body, cancellationToken: context.RequestAborted).ConfigureAwait(false);
                var root = body.RootElement;
                if (root.ValueKind == JsonValueKind.Object)
                {
                    alertId = root.TryGetProperty("alertId", out var id) && id.ValueKind == JsonValueKind.String ? id.GetString() : null;
                    by = root.TryGetProperty("by", out var name) && name.ValueKind == JsonValueKind.String ? name.GetString() : null;
                }
            }
            catch (JsonException)
            {
                return Results.Problem("the body is not JSON", statusCode: 400);
            }

            if (string.IsNullOrEmpty(alertId))
            {
                return Results.Problem("the body names no alertId", statusCode: 400);
            }

            return acknowledgements.Acknowledge(board, alertId, by ?? "operator", DateTimeOffset.UtcNow.ToUnixTimeMilliseconds())
                ? Results.Json(board.Find(alertId), Json)
                : Results.Problem($"no alert {alertId} among the {board.Count} most recent", statusCode: 404);
        });
        app.MapGet("/api/operations", () => Results.Json(operations(), Json));
        app.MapGet("/api/sensors", () => Results.Json(new { watched = series.Sensors() }, Json));
        app.MapGet("/api/series", (HttpContext context) =>
        {
            if (SensorOf(context) is not { } stream)
            {
                return Results.Problem("expected ?sensor=<site>/<device>/<metric>", statusCode: 400);
            }

            var watched = series.Watch(stream.Key);
            var alerts = board.Recent(new AlertFilter(Site: stream.Site, Device: stream.Device, Metric: stream.Metric), MaxLimit);
            return Results.Json(new { sensorId = stream.Key, points = SeriesColumns.Of(watched.Points()), alerts }, Json);
        });
        app.MapGet("/api/series/events", (HttpContext context) =>
        {
            if (SensorOf(context) is not { } stream)
            {
                return WriteProblemAsync(context, "expected ?sensor=<site>/<device>/<metric>");
            }

            // Watched while someone looks: a quiet stream stays among the watched ones.
            var watched = series.Watch(stream.Key);
            return StreamEventsAsync(context, stopping, ending => watched.WatchAsync(256, ending), "points", SeriesColumns.Of, () => series.Watch(stream.Key));
        });
        app.MapGet("/metrics", () => Results.Text(metrics.Scrape(), PrometheusExporter.ContentType, Encoding.UTF8));
        app.MapGet("/healthz", () => Results.Text("ok\n", "text/plain"));
    }

    /// <summary>
    /// Server-Sent Events: each item as an <paramref name="eventName"/> event whose data is its JSON,
    /// a comment after every quiet <see cref="KeepAlive"/> (then <paramref name="onQuiet"/> runs),
    /// until the client or the node goes.
    /// </summary>
    private static async Task StreamEventsAsync<T>(
        HttpContext context, CancellationToken stopping, Func<CancellationToken, IAsyncEnumerable<T>> watch, string eventName, Func<T, object> payload, Action? onQuiet = null)
    {
        using var ending = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, stopping);
        var response = context.Response;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-store";
        var body = response.Body;
        var header = Encoding.UTF8.GetBytes($"event: {eventName}\ndata: ");
        await body.WriteAsync("retry: 2000\n\n"u8.ToArray(), ending.Token).ConfigureAwait(false);
        await body.FlushAsync(ending.Token).ConfigureAwait(false);
        await using var items = watch(ending.Token).GetAsyncEnumerator(ending.Token);
        var next = items.MoveNextAsync().AsTask();
        try
        {
            while (!ending.IsCancellationRequested)
            {
                var tick = Task.Delay(KeepAlive, ending.Token);
                if (await Task.WhenAny(next, tick).ConfigureAwait(false) == next)
                {
                    if (!await next.ConfigureAwait(false))
                    {
                        break;
                    }

                    await body.WriteAsync(header, ending.Token).ConfigureAwait(false);
                    await body.WriteAsync(JsonSerializer.SerializeToUtf8Bytes(payload(items.Current), Json), ending.Token).ConfigureAwait(false);
                    await body.WriteAsync("\n\n"u8.ToArray(), ending.Token).ConfigureAwait(false);
                    next = items.MoveNextAsync().AsTask();
                }
                else
                {
                    onQuiet?.Invoke();
                    await body.WriteAsync(": keep-alive\n\n"u8.ToArray(), ending.Token).ConfigureAwait(false);
                }

                await body.FlushAsync(ending.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (IOException)
        {
            // The client went away mid-write.
        }
        finally
        {
            await ending.CancelAsync().ConfigureAwait(false);
            try
            {
                await next.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }
        }
    }

    private static StreamId? SensorOf(HttpContext context)
    {
        var text = context.Request.Query["sensor"].FirstOrDefault();
        if (string.IsNullOrEmpty(text) || text.Length > 1024)
        {
            return null;
        }

        try
        {
            var stream = StreamId.Parse(text);
            return stream.Key == text ? stream : null;
        }
        catch (Exception e) when (e is ArgumentException or FormatException)
        {
            return null;
        }
    }

    private static async Task WriteProblemAsync(HttpContext context, string detail)
    {
        context.Response.StatusCode = StatusCodes.Status400BadRequest;
        await context.Response.WriteAsync(detail + "\n").ConfigureAwait(false);
    }

    /// <summary>Security headers, the Host check and the token, before any endpoint.</summary>
    private static Func<HttpContext, RequestDelegate, Task> Guard(WebSettings settings) => async (context, next) =>
    {
        var headers = context.Response.Headers;
        headers["X-Content-Type-Options"] = "nosniff";
        headers["X-Frame-Options"] = "DENY";
        headers["Referrer-Policy"] = "no-referrer";
        headers["Content-Security-Policy"] = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'";

        if (settings.Token is null)
        {
            // Only loopback binds come without a token (the settings refuse anything else): accept
            // only requests that name this machine, so a rebound DNS name cannot reach the API.
            var host = context.Request.Host.Host;
            if (!IsLocalName(host))
            {
                context.Response.StatusCode = StatusCodes.Status403Forbidden;
                await context.Response.WriteAsync($"Host '{host}' is not this machine's loopback name; open http://127.0.0.1:{context.Connection.LocalPort}/ instead.\n").ConfigureAwait(false);
                return;
            }
        }
        else if (!Authorized(context, settings.Token) && !IsTokenLanding(context, settings.Token))
        {
            context.Response.StatusCode = StatusCodes.Status401Unauthorized;
            headers.WWWAuthenticate = "Bearer";
            await context.Response.WriteAsync("A token is required: an 'Authorization: Bearer <token>' header, or open /?token=<token> once in the browser.\n").ConfigureAwait(false);
            return;
        }

        await next(context).ConfigureAwait(false);
    };

    private static bool IsLocalName(string host) =>
        string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase)
        || (IPAddress.TryParse(host.Trim('[', ']'), out var address) && IPAddress.IsLoopback(address));

    private static bool Authorized(HttpContext context, string token)
    {
        var header = context.Request.Headers.Authorization.FirstOrDefault();
        if (header is not null && header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) && Matches(header["Bearer ".Length..].Trim(), token))
        {
            return true;
        }

        return context.Request.Cookies.TryGetValue(TokenCookie, out var cookie) && Matches(cookie, token);
    }

    private static bool IsTokenLanding(HttpContext context, string token) =>
        context.Request.Path == "/" && context.Request.Query["token"].FirstOrDefault() is { } given && Matches(given, token);

    private static bool Matches(string given, string token) =>
        CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(given), Encoding.UTF8.GetBytes(token));

    private static string? Value(Microsoft.Extensions.Primitives.StringValues values) =>
        values.FirstOrDefault() is { Length: > 0 } value ? value : null;

    private static bool TryLimit(string? text, out int limit)
    {
        if (text is null)
        {
            limit = MaxLimit;
            return true;
        }

        return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out limit) && limit is >= 1 and <= MaxLimit;
    }

    private static readonly Assembly Resources = typeof(DashboardServer).Assembly;

    private static readonly Dictionary<string, string> ContentTypes = new(StringComparer.OrdinalIgnoreCase)
    {
        [".html"] = "text/html; charset=utf-8",
        [".js"] = "text/javascript; charset=utf-8",
        [".css"] = "text/css; charset=utf-8",
        [""] = "text/plain; charset=utf-8",
    };

    /// <summary>An embedded file of wwwroot; only names the build embedded, so no path reaches the disk.</summary>
    private static IResult Asset(string file)
    {
        var stream = Resources.GetManifestResourceStream("wwwroot/" + file);
        if (stream is null)
        {
            return Results.NotFound();
        }

        var extension = Path.GetExtension(file);
        return Results.Stream(stream, ContentTypes.GetValueOrDefault(extension, "application/octet-stream"));
    }
}
