using System.Globalization;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace AnomalyActors.Notifications.Channels;

/// <summary>
/// POSTs Alertmanager's webhook JSON (version 4), so whatever takes Alertmanager's notifications
/// takes ours: one message per group, status firing while any of its alerts fires.
/// </summary>
public sealed class WebhookChannel(WebhookSettings settings) : INotificationChannel
{
    private readonly HttpClient _http = new() { Timeout = settings.Timeout };

    public string Name => settings.Name;

    public async Task SendAsync(NotificationBatch batch, CancellationToken cancellation)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, settings.Url)
        {
            Content = new ByteArrayContent(Payload(batch)),
        };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        if (settings.BearerToken is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", settings.BearerToken);
        }

        HttpResponseMessage response;
        try
        {
            response = await _http.SendAsync(request, cancellation).ConfigureAwait(false);
        }
        catch (HttpRequestException e)
        {
            throw new DeliveryFailedException($"webhook {settings.Name} ({settings.Url.GetLeftPart(UriPartial.Path)}): {e.Message}", e);
        }
        catch (TaskCanceledException e) when (!cancellation.IsCancellationRequested)
        {
            throw new DeliveryFailedException($"webhook {settings.Name}: no answer in {settings.Timeout.TotalSeconds:0} s", e);
        }

        using (response)
        {
            if (!response.IsSuccessStatusCode)
            {
                throw new DeliveryFailedException($"webhook {settings.Name} answered {(int)response.StatusCode} {response.ReasonPhrase}");
            }
        }
    }

    /// <summary>The body Alertmanager sends to webhook receivers.</summary>
    public static byte[] Payload(NotificationBatch batch)
    {
        var common = CommonLabels(batch.Notices);
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("version", "4");
            json.WriteString("groupKey", $"{{}}:{batch.GroupKey}");
            json.WriteNumber("truncatedAlerts", 0);
            json.WriteString("status", batch.Firing ? "firing" : "resolved");
            json.WriteString("receiver", batch.Channel);
            Labels(json, "groupLabels", batch.GroupLabels);
            Labels(json, "commonLabels", common);
            json.WriteStartObject("commonAnnotations");
            json.WriteEndObject();
            json.WriteString("externalURL", batch.DashboardUrl?.ToString() ?? string.Empty);
            json.WriteStartArray("alerts");
            foreach (var notice in batch.Notices)
            {
                json.WriteStartObject();
                json.WriteString("status", notice.Firing ? "firing" : "resolved");
                Labels(json, "labels", LabelsOf(notice));
                json.WriteStartObject("annotations");
                json.WriteString("summary", notice.Text);
                json.WriteString("grade", notice.Grade.ToString("0.00", CultureInfo.InvariantCulture));
                if (double.IsFinite(notice.Value))
                {
                    json.WriteString("value", notice.Value.ToString("G6", CultureInfo.InvariantCulture));
                }

                json.WriteEndObject();
                json.WriteString("startsAt", notice.Firing ? Time(notice.At) : "0001-01-01T00:00:00Z");
                json.WriteString("endsAt", notice.Firing ? "0001-01-01T00:00:00Z" : Time(notice.At));
                json.WriteString("generatorURL", batch.DashboardUrl is null ? string.Empty : new Uri(batch.DashboardUrl, "sensor?id=" + Uri.EscapeDataString(notice.Stream.Key)).ToString());
                json.WriteString("fingerprint", Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(notice.AlertId)).AsSpan(0, 8)));
                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WriteEndObject();
        }

        return buffer.ToArray();
    }

    public void Dispose() => _http.Dispose();

    public static IReadOnlyDictionary<string, string> LabelsOf(AlertNotice notice) => new SortedDictionary<string, string>(StringComparer.Ordinal)
    {
        ["alertname"] = "AnomalyDetected",
        ["alert_id"] = notice.AlertId,
        ["site"] = notice.Stream.Site,
        ["device"] = notice.Stream.Device,
        ["metric"] = notice.Stream.Metric,
        ["severity"] = notice.Severity,
    };

    private static IReadOnlyDictionary<string, string> CommonLabels(IReadOnlyList<AlertNotice> notices)
    {
        var common = new SortedDictionary<string, string>(LabelsOf(notices[0]).ToDictionary(), StringComparer.Ordinal);
        foreach (var notice in notices.Skip(1))
        {
            var labels = LabelsOf(notice);
            foreach (var key in common.Keys.ToList().Where(k => labels[k] != common[k]))
            {
                common.Remove(key);
            }
        }

        return common;
    }

    private static void Labels(Utf8JsonWriter json, string name, IReadOnlyDictionary<string, string> labels)
    {
        json.WriteStartObject(name);
        foreach (var (key, value) in labels)
        {
            json.WriteString(key, value);
        }

        json.WriteEndObject();
    }

    private static string Time(DateTimeOffset at) => at.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture);
}
