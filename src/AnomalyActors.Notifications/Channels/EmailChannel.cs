using System.Text;
using MailKit.Net.Smtp;
using MailKit.Security;
using MimeKit;

namespace AnomalyActors.Notifications.Channels;

/// <summary>One e-mail per group over SMTP (MailKit): "Anomaly detected on CPU-FAN with the ID ...".</summary>
public sealed class EmailChannel(EmailSettings settings) : INotificationChannel
{
    public string Name => settings.Name;

    public async Task SendAsync(NotificationBatch batch, CancellationToken cancellation)
    {
        var message = Message(settings, batch);
        using var client = new SmtpClient { Timeout = (int)settings.Timeout.TotalMilliseconds };
        try
        {
            var tls = settings.Tls switch
            {
                SmtpTls.None => SecureSocketOptions.None,
                SmtpTls.Tls => SecureSocketOptions.SslOnConnect,
                _ => SecureSocketOptions.StartTls,
            };
            await client.ConnectAsync(settings.SmtpHost, settings.SmtpPort, tls, cancellation).ConfigureAwait(false);
            if (settings.Username is not null)
            {
                await client.AuthenticateAsync(settings.Username, settings.Password ?? string.Empty, cancellation).ConfigureAwait(false);
            }

            await client.SendAsync(message, cancellation).ConfigureAwait(false);
            await client.DisconnectAsync(quit: true, cancellation).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or MailKit.CommandException or MailKit.ProtocolException or MailKit.Security.AuthenticationException or TimeoutException)
        {
            throw new DeliveryFailedException($"e-mail {settings.Name} via {settings.SmtpHost}:{settings.SmtpPort}: {e.Message}", e);
        }
    }

    public static MimeMessage Message(EmailSettings settings, NotificationBatch batch)
    {
        var message = new MimeMessage();
        message.From.Add(MailboxAddress.Parse(settings.From));
        foreach (var to in settings.To)
        {
            message.To.Add(MailboxAddress.Parse(to));
        }

        message.Subject = Subject(batch);
        var body = new StringBuilder();
        foreach (var notice in batch.Notices)
        {
            body.Append(notice.Repeat ? "[still open] " : notice.Firing ? "[firing] " : "[resolved] ")
                .Append('[').Append(notice.Severity).Append("] ")
                .Append(notice.Text)
                .Append(" at ").Append(notice.At.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss 'UTC'", System.Globalization.CultureInfo.InvariantCulture))
                .AppendLine();
            if (batch.DashboardUrl is not null)
            {
                body.Append("  ").Append(new Uri(batch.DashboardUrl, "sensor?id=" + Uri.EscapeDataString(notice.Stream.Key))).AppendLine();
            }
        }

        message.Body = new TextPart("plain") { Text = body.ToString() };
        return message;
    }

    private static string Subject(NotificationBatch batch)
    {
        if (batch.Notices.Count == 1)
        {
            var notice = batch.Notices[0];
            return notice.Firing
                ? $"[{notice.Severity}] Anomaly detected on {notice.Stream.Device} {notice.Stream.Metric} with the ID {notice.AlertId}"
                : $"[resolved] Anomaly on {notice.Stream.Device} {notice.Stream.Metric} with the ID {notice.AlertId} cleared";
        }

        var firing = batch.Notices.Count(n => n.Firing);
        var group = string.Join(", ", batch.GroupLabels.Select(l => $"{l.Key} {l.Value}"));
        return $"{batch.Notices.Count} anomaly notifications ({firing} firing, {batch.Notices.Count - firing} resolved){(group.Length == 0 ? string.Empty : " for " + group)}";
    }

    public void Dispose()
    {
    }
}
